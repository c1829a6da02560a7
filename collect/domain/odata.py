"""ODK Central's OData feed of a form's submissions: service document, $metadata and rows.

Excel, Power BI, pyodk and ruODK read submissions through Central's OData subset, so names,
URLs and JSON shapes here are Central's. A form is one table `Submissions` (a row per
submission, groups as nested objects, `__id` and a `__system` object of metadata) plus a table
per repeat, `Submissions.{group.}repeat`, whose rows carry their own `__id` and their parent's
(`__Submissions-id`, or `__Submissions-{outer repeat path}-id` inside another repeat). A parent
row links to its repeat rows with `{repeat}@odata.navigationLink`, or holds them inline with
`$expand=*`.

Rows are shaped from the values stored at receipt (`SubmissionDef.data`, read by
`exports.records`), straight from a database cursor to JSON chunks, so a feed of any size
leaves memory flat. Questions the form marks sensitive are left out of the feed altogether,
$metadata included: a BI dataset is refreshed unattended and shared widely, and the exports,
where a manager asks for them by name, are the place for personal data.

The functions that take a `Schema` are pure; `service`, `metadata` and `feed` check access and
read the database. Everything a request can get wrong is raised before the first byte streams,
so errors still reach the client as a status and a JSON body.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import math
import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import orjson
from lxml import etree
from sqlalchemy import ColumnElement, func, select

from collect.domain import access, exports, forms, tables
from collect.domain.tables import SubmissionInfo
from collect.domain.xform import Field
from collect.errors import BadRequest, NotFound, NotSupported
from collect.storage.db import db
from collect.storage.models import Actor, Submission

SUBMISSIONS = "Submissions"
USER_NAMESPACE = "org.opendatakit.user"
SYSTEM_NAMESPACE = "org.opendatakit.submission"
EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
JSON_TYPE = "application/json; odata.metadata=minimal"
XML_TYPE = "application/xml"

# The OData types Central gives each XForm bind type; everything else is Edm.String.
EDM_TYPES = {
    "int": "Edm.Int64",
    "integer": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "boolean": "Edm.Boolean",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
}
SYSTEM_PROPERTIES = (
    ("submissionDate", "Edm.DateTimeOffset"),
    ("updatedAt", "Edm.DateTimeOffset"),
    ("submitterId", "Edm.String"),
    ("submitterName", "Edm.String"),
    ("attachmentsPresent", "Edm.Int64"),
    ("attachmentsExpected", "Edm.Int64"),
    ("status", f"{SYSTEM_NAMESPACE}.Status"),
    ("reviewState", f"{SYSTEM_NAMESPACE}.ReviewState"),
    ("deviceId", "Edm.String"),
    ("edits", "Edm.Int64"),
    ("formVersion", "Edm.String"),
)
_SYSTEM_NAMES = frozenset(name for name, _ in SYSTEM_PROPERTIES)
# System query options a client may reasonably send that this feed does not implement.
_UNSUPPORTED = ("$orderby", "$search", "$apply", "$compute", "$levels", "$index")
_CHUNK = 64 * 1024
_BATCH = 500  # submissions per database round trip


# Schema: the form's questions as OData tables ---------------------------------------------------


@dataclass(eq=False)
class Node:
    """A question, group or repeat of the form (or the form's root) as the feed names it."""

    name: str  # OData identifier: the XML name with what OData forbids replaced by "_"
    path: str  # XPath from the instance root, "" for the root
    type: str  # bind type, "structure", "repeat", or "root"
    container: Node | None = None  # the root or repeat whose rows hold this node
    parent: Node | None = None  # the group, repeat or root it sits in
    children: list[Node] = field(default_factory=list)
    odata_path: str = ""  # names from the root joined by "/", as $select spells them
    table: str = ""  # root and repeats: "Submissions", "Submissions.group.repeat"
    parent_key: str = ""  # repeats: the property naming the parent row's __id
    step: str = ""  # repeats: path from the container, for keys ("group/repeat")
    link_step: str = ""  # repeats: the same in OData names, for navigation links
    chain: tuple[Node, ...] = ()  # repeats: the repeats from the outermost down to this one

    @property
    def is_table(self) -> bool:
        return self.type in ("root", "repeat")


@dataclass
class Schema:
    """Every table of a form's feed, root first, in document order."""

    xml_form_id: str
    root: Node
    tables: dict[str, Node]
    by_odata_path: dict[str, Node]
    groups: list[Node]

    @property
    def namespace(self) -> str:
        return f"{USER_NAMESPACE}.{identifier(self.xml_form_id)}"


def identifier(name: str) -> str:
    """An XML name as an OData identifier: a letter or _ first, then letters, digits and _."""
    prefixed = name if re.match(r"[A-Za-z_]", name) else f"_{name}"
    return re.sub(r"[^A-Za-z0-9_]+", "_", prefixed)


def schema(xml_form_id: str, fields: Sequence[Field]) -> Schema:
    """Arrange a version's fields (depth-first) as the feed's tables, leaving sensitive ones out."""
    root = Node(SUBMISSIONS, "", "root", table=SUBMISSIONS)
    nodes = {"": root}
    built = Schema(xml_form_id, root, {SUBMISSIONS: root}, {}, [])
    sensitive = [f.path for f in fields if f.sensitive]
    for f in fields:
        parent = nodes.get(f.path.rsplit("/", 1)[0])
        if parent is None or any(f.path == s or f.path.startswith(s + "/") for s in sensitive):
            continue
        container = parent if parent.is_table else parent.container
        assert container is not None
        node = Node(identifier(f.name), f.path, f.type, container, parent)
        node.odata_path = f"{parent.odata_path}/{node.name}".lstrip("/")
        parent.children.append(node)
        nodes[f.path] = node
        built.by_odata_path[node.odata_path] = node
        if f.type == "structure":
            built.groups.append(node)
        elif f.type == "repeat":
            node.table = ".".join([SUBMISSIONS, *node.odata_path.split("/")])
            outer = (
                [SUBMISSIONS, *container.odata_path.split("/")] if container.path else [SUBMISSIONS]
            )
            node.parent_key = f"__{'-'.join(outer)}-id"
            node.step = f.path[len(container.path) + 1 :]
            node.link_step = node.odata_path[len(container.odata_path) :].lstrip("/")
            node.chain = (*container.chain, node)
            built.tables[node.table] = node
    return built


def service_document(form_schema: Schema, service_root: str) -> dict[str, Any]:
    """The OData service document: one entity set per table."""
    return {
        "@odata.context": f"{service_root}/$metadata",
        "value": [{"name": name, "kind": "EntitySet", "url": name} for name in form_schema.tables],
    }


def metadata_document(form_schema: Schema) -> bytes:
    """The EDMX (CSDL 4.0) document: Central's submission metadata types, then the form's."""
    namespace = form_schema.namespace
    edmx = etree.Element(f"{{{EDMX}}}Edmx", nsmap={"edmx": EDMX}, Version="4.0")
    services = etree.SubElement(edmx, f"{{{EDMX}}}DataServices")

    system = _element(services, "Schema", nsmap={None: EDM}, Namespace=SYSTEM_NAMESPACE)
    metadata = _element(system, "ComplexType", Name="metadata")
    for name, type_ in SYSTEM_PROPERTIES:
        _element(metadata, "Property", Name=name, Type=type_)
    for enum, members in (
        ("Status", ("notDecrypted", "missingEncryptedFormData")),
        ("ReviewState", ("hasIssues", "edited", "rejected", "approved")),
    ):
        enum_type = _element(system, "EnumType", Name=enum)
        for member in members:
            _element(enum_type, "Member", Name=member)

    user = _element(services, "Schema", nsmap={None: EDM}, Namespace=namespace)
    for node in form_schema.tables.values():
        entity = _element(user, "EntityType", Name=node.table)
        _element(_element(entity, "Key"), "PropertyRef", Name="__id")
        _element(entity, "Property", Name="__id", Type="Edm.String")
        if node.type == "root":
            _element(entity, "Property", Name="__system", Type=f"{SYSTEM_NAMESPACE}.metadata")
        else:
            _element(entity, "Property", Name=node.parent_key, Type="Edm.String")
        _properties(entity, node, namespace)
    for group in form_schema.groups:
        complex_type = _element(user, "ComplexType", Name=group.odata_path.replace("/", "."))
        _properties(complex_type, group, namespace)

    container = _element(user, "EntityContainer", Name=identifier(form_schema.xml_form_id))
    for node in form_schema.tables.values():
        entity_set = _element(
            container, "EntitySet", Name=node.table, EntityType=f"{namespace}.{node.table}"
        )
        if node.type == "root":
            _capabilities(entity_set, node)
    return bytes(etree.tostring(edmx, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _element(parent: etree._Element, tag: str, **attributes: Any) -> etree._Element:
    nsmap = attributes.pop("nsmap", None)
    return etree.SubElement(parent, f"{{{EDM}}}{tag}", attributes, nsmap=nsmap)


def _properties(parent: etree._Element, node: Node, namespace: str) -> None:
    for child in node.children:
        if child.type == "repeat":
            collection = f"Collection({namespace}.{child.table})"
            _element(parent, "NavigationProperty", Name=child.name, Type=collection)
        elif child.type == "structure":
            group_type = f"{namespace}.{child.odata_path.replace('/', '.')}"
            _element(parent, "Property", Name=child.name, Type=group_type)
        else:
            _element(
                parent, "Property", Name=child.name, Type=EDM_TYPES.get(child.type, "Edm.String")
            )


def _capabilities(entity_set: etree._Element, root: Node) -> None:
    """Tell BI tools what the feed can do, so they fold only what the server understands."""
    capabilities = "Org.OData.Capabilities.V1"

    def annotate(term: str, **value: str) -> etree._Element:
        return _element(entity_set, "Annotation", Term=f"{capabilities}.{term}", **value)

    def record(term: str, **flags: bool) -> etree._Element:
        rec = _element(annotate(term), "Record")
        for name, flag in flags.items():
            _element(rec, "PropertyValue", Property=name, Bool=str(flag).lower())
        return rec

    annotate("ConformanceLevel", EnumMember=f"{capabilities}.ConformanceLevelType/Minimal")
    annotate("BatchSupported", Bool="false")
    record("CountRestrictions", Countable=True)
    filters = record("FilterRestrictions", Filterable=True, RequiresFilter=False)
    not_filterable = _element(
        _element(filters, "PropertyValue", Property="NonFilterableProperties"), "Collection"
    )
    for child in root.children:
        _element(not_filterable, "PropertyPath").text = child.name
    record("SortRestrictions", Sortable=False)
    record("ExpandRestrictions", Expandable=False)


# Query options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """The OData system query options of a request, checked."""

    top: int | None = None
    skip: int = 0
    skiptoken: int | None = None  # the Submission.id below which the next page starts
    count: bool = False
    filter: str | None = None
    select: str | None = None
    expand: bool = False
    wkt: bool = False


def parse_query(args: Mapping[str, str]) -> Query:
    """Read $top, $skip, $skiptoken, $count, $filter, $select, $expand and $wkt."""
    for name in _UNSUPPORTED:
        if args.get(name):
            raise NotSupported(
                f"{name} is not supported by this server. Rows come newest first; the options "
                "are $top, $skip, $count, $filter, $select, $expand=* and $wkt."
            )
    output = args.get("$format", "json").lower()
    if output and not output.startswith(("json", "application/json")):
        raise NotSupported(f"$format={output} is not supported: the feed is JSON.")
    expand = args.get("$expand") or None
    if expand is not None and expand != "*":
        raise NotSupported(
            f"The $expand expression '{expand}' is not supported: only $expand=* is, which "
            "expands every repeat."
        )
    return Query(
        top=_whole(args, "$top"),
        skip=_whole(args, "$skip") or 0,
        skiptoken=_skiptoken(args.get("$skiptoken")),
        count=_boolean(args, "$count"),
        filter=args.get("$filter") or None,
        select=args.get("$select") or None,
        expand=expand == "*",
        wkt=_boolean(args, "$wkt"),
    )


def _whole(args: Mapping[str, str], name: str) -> int | None:
    value = args.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise BadRequest(f"{name} is a whole number of rows, 0 or more, not '{value}'.")
    return int(value)


def _boolean(args: Mapping[str, str], name: str) -> bool:
    value = args.get(name, "").strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise BadRequest(f"{name} is true or false, not '{args[name]}'.")


def skiptoken(row_id: int) -> str:
    """An opaque $skiptoken: the next page starts below this submission."""
    payload = base64.urlsafe_b64encode(json.dumps({"below": row_id}).encode()).decode()
    return "01" + payload.rstrip("=")


def _skiptoken(token: str | None) -> int | None:
    if not token:
        return None
    try:
        payload = token[2:] + "=" * (-len(token[2:]) % 4)
        below = json.loads(base64.urlsafe_b64decode(payload))["below"]
    except (binascii.Error, ValueError, KeyError, TypeError) as e:
        raise BadRequest(
            "The $skiptoken is not one this server gave: follow @odata.nextLink as it is."
        ) from e
    if not token.startswith("01") or not isinstance(below, int):
        raise BadRequest("The $skiptoken is not one this server gave: follow @odata.nextLink.")
    return below


@dataclass(frozen=True)
class Selection:
    """What $select keeps of a table's rows."""

    paths: frozenset[str] | None = None  # node paths to show; None shows all
    system: frozenset[str] | None = None  # __system properties; None: all, empty: no __system
    parent_key: bool = True


def selection(form_schema: Schema, table: Node, text: str | None) -> Selection:
    """Check $select against a table: `name`, `group/name`, `__id`, `__system[/name]`."""
    if text is None or text.strip() == "*":
        return Selection()
    paths: set[str] = set()
    system: set[str] = set()
    parent_key = False
    prefix = f"{table.odata_path}/" if table.path else ""
    for prop in (p.strip() for p in text.split(",")):
        node = form_schema.by_odata_path.get(prefix + prop)
        if prop == "__id":
            continue
        if table.type == "root" and prop == "__system":
            system |= _SYSTEM_NAMES
        elif table.type == "root" and prop.startswith("__system/") and prop[9:] in _SYSTEM_NAMES:
            system.add(prop[9:])
        elif table.type == "repeat" and prop == table.parent_key:
            parent_key = True
        elif node is None:
            raise BadRequest(
                f"Could not find a property named '{prop}' in {table.table}. Name questions as "
                "group/question, or __id"
                + (", __system or __system/submissionDate" if table.type == "root" else "")
                + "."
            )
        elif node.container is not table:
            raise BadRequest(
                f"The $select property '{prop}' is inside a repeat: select it on that "
                "repeat's own table instead."
            )
        else:
            paths.update(_subtree(node))
            walk = node.parent
            while walk is not None and walk is not table:
                paths.add(walk.path)
                walk = walk.parent
    return Selection(frozenset(paths), frozenset(system), parent_key)


def _subtree(node: Node) -> Iterator[str]:
    yield node.path
    for child in node.children:
        yield from _subtree(child)


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


# Requests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Urls:
    """Where the request came in: the service root and the request itself, both absolute."""

    service_root: str  # e.g. https://host/v1/projects/1/forms/household.svc
    request: str  # the request URL with its query string


@dataclass
class _Form:
    id: int
    schema: Schema
    versions: dict[int, str]


def _load(actor: Actor, project_id: int, xml_form_id: str) -> _Form:
    form = forms.get(actor, project_id, xml_form_id)
    access.require(actor, "submission.read", project_id)
    defs = exports.published(form)
    if not defs:
        raise NotFound("The form is not published yet, so it has no OData feed.")
    fields = tables.current_fields([forms.fields_of(d) for d in defs])
    return _Form(form.id, schema(form.xml_form_id, fields), {d.id: d.version for d in defs})


def service(actor: Actor, project_id: int, xml_form_id: str, urls: Urls) -> dict[str, Any]:
    """The service document of a form's feed."""
    return service_document(_load(actor, project_id, xml_form_id).schema, urls.service_root)


def metadata(actor: Actor, project_id: int, xml_form_id: str) -> bytes:
    """The $metadata document of a form's feed."""
    return metadata_document(_load(actor, project_id, xml_form_id).schema)


_SEGMENT = re.compile(r"^([^(]+)(?:\('(.*)'\))?$")


@dataclass(frozen=True)
class _Target:
    table: Node
    instance_id: str | None = None  # Submissions('…'): one submission only
    parent: tuple[str, str] | None = None  # (parent key property, id) the rows must carry
    count_only: bool = False  # …/$count: the number of rows, as text


def _target(form_schema: Schema, resource: str) -> _Target:
    """Read `Submissions`, `Submissions.group.repeat`, `Submissions('id')/group/repeat('id')/…`."""
    parts = resource.strip("/").split("/")
    count_only = parts[-1] == "$count"
    if count_only:
        parts.pop()
    matches = [_SEGMENT.match(p) for p in parts]
    if not parts or any(m is None for m in matches):
        raise NotFound(_no_table(form_schema, resource))
    segments = [(m.group(1), m.group(2)) for m in matches if m is not None]
    first, instance_id = segments[0]
    if len(segments) == 1 and instance_id is None:
        table = form_schema.tables.get(first)
        if table is None:
            raise NotFound(_no_table(form_schema, resource))
        return _Target(table, count_only=count_only)
    if first != SUBMISSIONS or instance_id is None or any(s[0] == "" for s in segments):
        raise NotFound(_no_table(form_schema, resource))
    name = ".".join(s[0] for s in segments)
    table = form_schema.tables.get(name)
    if table is None:
        raise NotFound(_no_table(form_schema, resource))
    last = max(i for i, s in enumerate(segments) if s[1] is not None)
    parent = None
    if last > 0:
        key = "__" + "-".join(s[0] for s in segments[: last + 1]) + "-id"
        parent = (key, segments[last][1] or "")
    return _Target(table, instance_id, parent, count_only)


def _no_table(form_schema: Schema, resource: str) -> str:
    return f"There is no table '{resource}' in this feed. Tables: {', '.join(form_schema.tables)}."


@dataclass(frozen=True)
class _Request:
    """One checked request for rows: the form, the table, how to shape and which to read."""

    form: _Form
    target: _Target
    shaper: Shaper
    where: list[ColumnElement[bool]]
    query: Query
    urls: Urls

    @property
    def context(self) -> str:
        return f"{self.urls.service_root}/$metadata#{self.target.table.table}"


def feed(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    resource: str,
    args: Mapping[str, str],
    urls: Urls,
) -> tuple[str, Iterator[bytes]]:
    """A table's rows as an OData JSON document: (content type, chunks to stream).

    Access, the table, the query options (`args`), $select and $filter are checked here, in
    that order, before anything streams: an unknown table is a 404 whatever the options.
    """
    form = _load(actor, project_id, xml_form_id)
    target = _target(form.schema, resource)
    query = parse_query(args)
    chosen = selection(form.schema, target.table, query.select)
    if query.skiptoken is not None and (target.table.type != "root" or target.instance_id):
        raise BadRequest("$skiptoken pages the Submissions table only; use $skip here.")
    where: list[ColumnElement[bool]] = []
    if query.filter:
        where.append(exports.parse_filter(query.filter)[0])
    if target.instance_id is not None:
        where = [Submission.instance_id == target.instance_id]
        if _count(form.id, where) == 0:
            raise NotFound(f"There is no submission '{target.instance_id}' in this form.")
    shaper = Shaper(target.table, chosen, query.expand, query.wkt)
    asked = _Request(form, target, shaper, where, query, urls)
    if target.count_only:
        return "text/plain; charset=utf-8", iter([str(_total(asked)).encode()])
    if target.table.type == "root" and target.instance_id is None:
        return JSON_TYPE, _chunked(_submissions(asked))
    return JSON_TYPE, _chunked(_rows(asked))


def _count(form_id: int, where: Sequence[ColumnElement[bool]]) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.form_id == form_id, Submission.deleted_at.is_(None), *where)
        )
        or 0
    )


def _total(asked: _Request) -> int:
    if asked.target.table.type == "root":
        return _count(asked.form.id, asked.where)
    return sum(1 for _ in _table_rows(asked))


def _submissions(asked: _Request) -> Iterator[bytes]:
    """The root table, paged in the database: $skip for the first page, then a $skiptoken
    that names the last row sent, so rows that arrive meanwhile neither repeat nor go missing."""
    query = asked.query
    head: dict[str, Any] = {"@odata.context": asked.context}
    if query.count:
        head["@odata.count"] = _count(asked.form.id, asked.where)
    yield orjson.dumps(head)[:-1] + b',"value":['
    page = list(asked.where)
    if query.skiptoken is not None:
        page.append(Submission.id < query.skiptoken)
    limit = None if query.top is None else query.top + 1
    offset = 0 if query.skiptoken is not None else query.skip
    sent = 0
    last = 0
    more = False
    form = asked.form
    records = exports.records(form.id, page, form.versions, _BATCH, limit=limit, offset=offset)
    with contextlib.closing(records):
        for info, values in records:
            if query.top is not None and sent >= query.top:
                more = True
                break
            for row in asked.shaper.rows(info, values):
                yield (b"," if sent else b"") + orjson.dumps(row)
            sent += 1
            last = info.row_id
    tail = b"]"
    if more:
        link = next_link(asked.urls.request, {"$skiptoken": skiptoken(last), "$skip": None})
        tail += b',"@odata.nextLink":' + orjson.dumps(link)
    yield tail + b"}"


def _table_rows(asked: _Request) -> Generator[dict[str, Any]]:
    form, parent = asked.form, asked.target.parent
    with contextlib.closing(exports.records(form.id, asked.where, form.versions, _BATCH)) as found:
        for info, values in found:
            for row in asked.shaper.rows(info, values):
                if parent is None or row.get(parent[0]) == parent[1]:
                    yield row


def _rows(asked: _Request) -> Iterator[bytes]:
    """A repeat table, or one submission's rows: paged as they stream, counted when asked."""
    query, table = asked.query, asked.target.table
    yield orjson.dumps({"@odata.context": asked.context})[:-1] + b',"value":['
    drop_key = table.type == "repeat" and not asked.shaper.chosen.parent_key
    end = None if query.top is None else query.skip + query.top
    seen = 0
    more = False
    rows = _table_rows(asked)
    for row in rows:
        if end is not None and seen >= end:
            more = True
            if not query.count:
                rows.close()
                break
        elif seen >= query.skip:
            if drop_key:
                row.pop(table.parent_key, None)
            yield (b"," if seen > query.skip else b"") + orjson.dumps(row)
        seen += 1
    tail = b"]"
    if more and end is not None:
        link = next_link(asked.urls.request, {"$skip": str(end), "$skiptoken": None})
        tail += b',"@odata.nextLink":' + orjson.dumps(link)
    if query.count:
        tail += b',"@odata.count":' + str(seen).encode()
    yield tail + b"}"


def next_link(url: str, changes: Mapping[str, str | None]) -> str:
    """The request URL with some query options replaced (None removes one)."""
    parts = urlsplit(url)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in changes]
    params += [(k, v) for k, v in changes.items() if v is not None]
    query = urlencode(params, quote_via=quote, safe="$/:,'()")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _chunked(parts: Iterator[bytes]) -> Iterator[bytes]:
    """Gather small pieces into chunks of about 64 KiB: fewer, larger writes to the socket."""
    buffer: list[bytes] = []
    size = 0
    try:
        for part in parts:
            buffer.append(part)
            size += len(part)
            if size >= _CHUNK:
                yield b"".join(buffer)
                buffer.clear()
                size = 0
        yield b"".join(buffer)
    finally:
        close = getattr(parts, "close", None)
        if close is not None:
            close()
