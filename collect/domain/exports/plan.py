"""What an export was asked for and how its stream is cut: options, plan, rows, sink."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
)

from collect.domain.exports.tables import Layout, Row
from collect.domain.forms.disclosure import Disclosure
from collect.domain.submissions import records


@dataclass(frozen=True)
class Options:
    """What the evaluator asked for (query parameters of the export URLs)."""

    attachments: bool = True
    group_paths: bool = True
    split_select_multiples: bool = False
    deleted_fields: bool = False
    labels: str | None = None  # a form language, by name or code
    filter: str | None = None  # OData $filter on __system/... columns
    since: str | None = None  # `from`: a date or a date-time, inclusive
    until: str | None = None  # `to`: a date (the whole day) or a date-time, inclusive
    rejected: bool = False  # include rejected submissions
    sensitive: bool = False  # include sensitive columns (managers only)
    formulas_raw: bool = False  # leave formula-like texts as they are


@dataclass(frozen=True)
class Tuning:
    """How the stream is cut: rows per database round trip, bytes per chunk, zip effort."""

    batch: int = 2000
    chunk: int = 256 * 1024
    compresslevel: int = 1


@dataclass
class Plan:
    form_id: int
    layout: Layout
    where: list[ColumnElement[bool]]
    versions: dict[int, str]  # form_def_id -> version string
    options: Options
    shown: Disclosure  # what the export may hold of the answers (and so of the files)


def rows(plan: Plan, batch: int) -> Iterator[tuple[int, Row]]:
    layout = plan.layout
    for info, values in records.current(plan.form_id, plan.where, plan.versions, batch):
        yield from layout.rows(info, values)


class Sink:
    """A write-only file for zipfile that collects what it is given, to hand on as chunks."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        if data:
            self.parts.append(bytes(data))
            self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return data
