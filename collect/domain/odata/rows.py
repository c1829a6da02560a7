"""Stored submission values shaped as Central's OData rows: types, GeoJSON, __system (pure)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from collect.domain.exports import tables
from collect.domain.exports.tables import SubmissionInfo
from collect.domain.odata.query import Selection
from collect.domain.odata.schema import SUBMISSIONS, Node

# Rows -------------------------------------------------------------------------------------------


_INTEGER = re.compile(r"\s*[-+]?\d+")
_SHORT_OFFSET = re.compile(r"[+-]\d\d$")


def value(kind: str, raw: Any, wkt: bool = False) -> Any:
    """A stored answer as JSON: numbers as numbers, places as GeoJSON (or WKT), empty as null."""
    if not isinstance(raw, str) or raw == "":
        return None
    if kind in ("int", "integer"):
        match = _INTEGER.match(raw)
        return int(match.group()) if match else None
    if kind == "decimal":
        return _number(raw)
    if kind == "geopoint":
        return _point(raw, wkt)
    if kind in ("geotrace", "geoshape"):
        return _line(kind, raw, wkt)
    if kind == "dateTime":
        # Collect may end a time with "+07"; OData and most parsers want "+07:00".
        text = raw.strip()
        return f"{text}:00" if _SHORT_OFFSET.search(text) else text
    if kind == "boolean":
        return {"true": True, "1": True, "false": False, "0": False}.get(raw.strip().lower())
    return raw


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _coordinates(text: str) -> tuple[list[float], float | None] | None:
    """[lon, lat(, altitude)] and the accuracy of one ODK point "lat lon altitude accuracy"."""
    parts = [_number(p) for p in text.split()]
    if len(parts) < 2 or parts[0] is None or parts[1] is None:
        return None
    coordinates = [parts[1], parts[0]]
    if len(parts) > 2 and parts[2] is not None:
        coordinates.append(parts[2])
    return coordinates, parts[3] if len(parts) > 3 else None


def _wkt(coordinates: list[float]) -> str:
    return " ".join(repr(int(c)) if c.is_integer() else repr(c) for c in coordinates)


def _point(text: str, wkt: bool) -> Any:
    found = _coordinates(text)
    if found is None:
        return None
    coordinates, accuracy = found
    if wkt:
        return f"POINT ({_wkt(coordinates)})"
    point: dict[str, Any] = {"type": "Point", "coordinates": coordinates}
    if accuracy is not None:
        point["properties"] = {"accuracy": accuracy}
    return point


def _line(kind: str, text: str, wkt: bool) -> Any:
    points = [_coordinates(p) for p in text.split(";") if p.strip()]
    found = [p for p in points if p is not None]
    if not found:
        return None
    coordinates = [c for c, _ in found]
    if wkt:
        joined = ",".join(_wkt(c) for c in coordinates)
        return f"LINESTRING ({joined})" if kind == "geotrace" else f"POLYGON (({joined}))"
    shape: dict[str, Any] = (
        {"type": "LineString", "coordinates": coordinates}
        if kind == "geotrace"
        else {"type": "Polygon", "coordinates": [coordinates]}
    )
    accuracies = [a for _, a in found]
    if any(a is not None for a in accuracies):
        shape["properties"] = {"accuracies": accuracies}
    return shape


def system(info: SubmissionInfo) -> dict[str, Any]:
    """A submission's `__system` object, as Central writes it."""
    return {
        "submissionDate": tables.submission_date(info.created_at),
        "updatedAt": tables.submission_date(info.updated_at) if info.updated_at else None,
        "submitterId": None if info.submitter_id is None else str(info.submitter_id),
        "submitterName": info.submitter_name or None,
        "attachmentsPresent": info.attachments_present,
        "attachmentsExpected": info.attachments_expected,
        "status": "notDecrypted" if info.status else None,
        "reviewState": info.review_state,
        "deviceId": info.device_id,
        "edits": info.edits,
        "formVersion": info.form_version,
    }


def row_id(key: str) -> str:
    """A repeat row's __id: a hash of its export KEY (`uuid:…/group/repeat[2]`), URL-safe."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


def record_link(instance_id: str) -> str:
    """The navigation path of a submission, relative to the service root."""
    return f"{SUBMISSIONS}('{quote(instance_id, safe='')}')"


@dataclass(frozen=True)
class Shaper:
    """Turns one submission's stored values into the rows of one table."""

    table: Node
    chosen: Selection = Selection()
    expand: bool = False
    wkt: bool = False

    def rows(
        self, info: SubmissionInfo, values: Mapping[str, Any] | None
    ) -> Iterator[dict[str, Any]]:
        """The table's rows from one submission (the root table: exactly one)."""
        link = record_link(info.instance_id)
        if self.table.type == "root":
            row: dict[str, Any] = {"__id": info.instance_id}
            if values is not None:  # encrypted and not decrypted: metadata only
                self._fill(row, self.table, values, info.instance_id, link)
            if self.chosen.system is None:
                row["__system"] = system(info)
            elif self.chosen.system:
                row["__system"] = {k: v for k, v in system(info).items() if k in self.chosen.system}
            yield row
        elif values is not None:
            yield from self._walk(0, values, info.instance_id, info.instance_id, link)

    def _walk(
        self, depth: int, values: Mapping[str, Any], key: str, parent_id: str, link: str
    ) -> Iterator[dict[str, Any]]:
        repeat = self.table.chain[depth]
        items = values.get(repeat.path)
        if not isinstance(items, list):
            return
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                continue
            item_key = f"{key}/{repeat.step}[{n}]"
            item_id = row_id(item_key)
            item_link = f"{link}/{repeat.link_step}('{item_id}')"
            if repeat is self.table:
                row = {"__id": item_id, repeat.parent_key: parent_id}
                self._fill(row, repeat, item, item_key, item_link)
                yield row
            else:
                yield from self._walk(depth + 1, item, item_key, item_id, item_link)

    def _fill(
        self, row: dict[str, Any], node: Node, values: Mapping[str, Any], key: str, link: str
    ) -> None:
        paths = self.chosen.paths
        for child in node.children:
            if paths is not None and child.path not in paths:
                continue
            if child.type == "structure":
                group: dict[str, Any] = {}
                self._fill(group, child, values, key, f"{link}/{child.name}")
                row[child.name] = group
            elif child.type == "repeat":
                items = values.get(child.path)
                if not isinstance(items, list) or not items:
                    continue
                row[f"{child.name}@odata.navigationLink"] = f"{link}/{child.name}"
                if self.expand:
                    row[child.name] = list(self._inline(child, items, key, link))
            else:
                row[child.name] = value(child.type, values.get(child.path), self.wkt)

    def _inline(
        self, repeat: Node, items: list[Any], key: str, link: str
    ) -> Iterator[dict[str, Any]]:
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                continue
            item_key = f"{key}/{repeat.step}[{n}]"
            item_id = row_id(item_key)
            row: dict[str, Any] = {"__id": item_id}
            self._fill(row, repeat, item, item_key, f"{link}/{repeat.name}('{item_id}')")
            yield row
