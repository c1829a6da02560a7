"""ODK Central's OData feed of a form's submissions: service document, $metadata and rows.

Excel, Power BI, pyodk and ruODK read submissions through Central's OData subset, so names,
URLs and JSON shapes here are Central's. A form is one table `Submissions` (a row per
submission, groups as nested objects, `__id` and a `__system` object of metadata) plus a table
per repeat, `Submissions.{group.}repeat`, whose rows carry their own `__id` and their parent's
(`__Submissions-id`, or `__Submissions-{outer repeat path}-id` inside another repeat). A parent
row links to its repeat rows with `{repeat}@odata.navigationLink`, or holds them inline with
`$expand=*`.

Rows are shaped from the values stored at receipt (`SubmissionDef.data`, read by
`submissions.records`), straight from a database cursor to JSON chunks, so a feed of any size
leaves memory flat. Sensitive answers (domain/forms/disclosure.py) are left out of the feed
altogether, for everyone, $metadata included: a BI dataset is refreshed unattended and shared
widely, and the exports, where a manager asks for them by name, are the place for personal data.

The functions that take a `Schema` are pure; `service`, `metadata` and `feed` check access and
read the database. Everything a request can get wrong is raised before the first byte streams,
so errors still reach the client as a status and a JSON body.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import orjson
from sqlalchemy import ColumnElement, func, select

from collect.domain import forms
from collect.domain.exports import tables
from collect.domain.forms import disclosures
from collect.domain.forms import fields as form_fields
from collect.domain.odata import schema
from collect.domain.odata.query import Query, parse_query, selection, skiptoken
from collect.domain.odata.rows import Shaper
from collect.domain.odata.schema import (
    JSON_TYPE,
    SUBMISSIONS,
    Node,
    Schema,
    metadata_document,
    service_document,
)
from collect.domain.people import access
from collect.domain.submissions import records
from collect.errors import BadRequest, NotFound
from collect.storage.db import db
from collect.storage.models import Actor, Submission

_CHUNK = 64 * 1024
_BATCH = 500  # submissions per database round trip
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
    defs = forms.published(form)
    if not defs:
        raise NotFound("The form is not published yet, so it has no OData feed.")
    fields = tables.current_fields([form_fields.of(d) for d in defs])
    shown = disclosures.for_form(form, sees_sensitive=False)
    return _Form(
        form.id, schema.build(form.xml_form_id, fields, shown), {d.id: d.version for d in defs}
    )


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
        where.append(records.parse_filter(query.filter)[0])
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
    found = records.current(form.id, page, form.versions, _BATCH, limit=limit, offset=offset)
    with contextlib.closing(found):
        for info, values in found:
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
    with contextlib.closing(records.current(form.id, asked.where, form.versions, _BATCH)) as found:
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
