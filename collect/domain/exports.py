"""Submission exports for evaluators: CSV, a ZIP of CSVs with media, and XLSX, streamed.

Rows go from a database cursor (`yield_per`; a server-side cursor on PostgreSQL) through the
table layout of `tables.py` into the file format and out as byte chunks, so memory stays flat
whatever the number of submissions and the first bytes leave at once. A ZIP entry cannot be
interleaved with another, so repeat tables are spooled to temporary files while the root
table streams, then appended; XLSX (`xlsx_stream.py`) is the same kind of ZIP, of XML parts
whose root sheet streams row by row. Closing the chunk iterator (a client that went away) stops the
query and removes the temporary files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any, NoReturn

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    text,
)
from sqlalchemy.orm import QueryableAttribute, aliased

from collect.domain import access, audits, forms, tables, xlsx_stream
from collect.domain.tables import Layout, Row, SubmissionInfo
from collect.errors import BadRequest, BlobMissing, Forbidden, NotFound
from collect.storage import blobs
from collect.storage.db import db
from collect.storage.models import (
    Actor,
    Blob,
    Form,
    FormDef,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
)

try:  # orjson reads the stored values about four times faster than json
    import orjson

    _loads: Callable[[str | bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency; json is the fallback
    _loads = json.loads

ZIP = "application/zip"
CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOTE_NAME = "withheld-columns.txt"
MISSING_NAME = "media/missing-files.txt"
XLSX_MAX_ROWS = 1_048_576


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
class Download:
    """An export ready to stream: its file name, type, and the bytes as they are made."""

    filename: str
    mimetype: str
    chunks: Iterator[bytes]
    withheld: list[str] = field(default_factory=list)


def csv_zip(
    actor: Actor, project_id: int, xml_form_id: str, options: Options, tuning: Tuning = Tuning()
) -> Download:
    """The root table, one table per repeat and (unless attachments=false) the media, zipped."""
    plan = _prepare(actor, project_id, xml_form_id, options, "csv.zip", root_only=False)
    return Download(
        f"{plan.layout.tables[0].name}.zip", ZIP, _zip_chunks(plan, tuning), plan.layout.withheld
    )


def csv_root(
    actor: Actor, project_id: int, xml_form_id: str, options: Options, tuning: Tuning = Tuning()
) -> Download:
    """The root table alone, as one CSV file."""
    plan = _prepare(actor, project_id, xml_form_id, options, "csv", root_only=True)
    return Download(
        f"{plan.layout.tables[0].name}.csv", CSV, _csv_chunks(plan, tuning), plan.layout.withheld
    )


def xlsx(
    actor: Actor, project_id: int, xml_form_id: str, options: Options, tuning: Tuning = Tuning()
) -> Download:
    """Every table as a sheet of one workbook: numbers as numbers, dates as dates."""
    plan = _prepare(actor, project_id, xml_form_id, options, "xlsx", root_only=False)
    return Download(
        f"{plan.layout.tables[0].name}.xlsx",
        XLSX,
        _xlsx_chunks(plan, tuning),
        plan.layout.withheld,
    )


# Preparing: access, fields, layout, filters, audit ---------------------------------------------


@dataclass
class _Plan:
    form_id: int
    layout: Layout
    where: list[ColumnElement[bool]]
    versions: dict[int, str]  # form_def_id -> version string
    options: Options
    binary_paths: frozenset[str]  # every binary question, by path, of every version
    withheld_binaries: frozenset[str]  # binary questions left out as sensitive


def _prepare(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    options: Options,
    fmt: str,
    *,
    root_only: bool,
) -> _Plan:
    form = forms.get(actor, project_id, xml_form_id)
    access.require(actor, "submission.read", project_id)
    if options.sensitive and "submission.sensitive" not in access.project_verbs(actor, project_id):
        raise Forbidden(
            "Only project managers may export sensitive questions (sensitive=include); "
            "leave the option out to export everything else."
        )
    defs = published(form)
    if not defs:
        raise NotFound("The form is not published yet, so it has no submissions to export.")
    versions = [forms.fields_of(d) for d in defs]
    fields = (
        tables.merge_versions(versions)
        if options.deleted_fields
        else tables.current_fields(versions)
    )
    language = None
    if options.labels:
        languages = list(dict.fromkeys(lang for d in reversed(defs) for lang in d.languages))
        language = tables.resolve_language(options.labels, languages)
    layout = tables.layout(
        form.xml_form_id,
        fields,
        tables.Options(
            group_paths=options.group_paths,
            split_select_multiples=options.split_select_multiples,
            language=language,
            include_sensitive=options.sensitive,
            root_only=root_only,
        ),
    )
    where = _where(options)
    every = [f for version in versions for f in version]
    sensitive = {f.path for f in every if f.sensitive}
    binaries = frozenset(f.path for f in every if f.type == "binary")
    withheld_binaries = frozenset(
        path
        for path in binaries
        if not options.sensitive and any(path == s or path.startswith(s + "/") for s in sensitive)
    )
    plan = _Plan(
        form_id=form.id,
        layout=layout,
        where=where,
        versions={d.id: d.version for d in defs},
        options=options,
        binary_paths=binaries,
        withheld_binaries=withheld_binaries,
    )
    audits.log(
        actor,
        "form.submission.export",
        f"form:{form.id}",
        xmlFormId=form.xml_form_id,
        format=fmt,
        options=_query(options),
        withheld=layout.withheld,
    )
    db.session.commit()
    return plan


def _query(options: Options) -> dict[str, Any]:
    """The options as the query parameters that asked for them, for the audit log."""
    return {
        "attachments": options.attachments,
        "groupPaths": options.group_paths,
        "splitSelectMultiples": options.split_select_multiples,
        "deletedFields": options.deleted_fields,
        "labels": options.labels,
        "$filter": options.filter,
        "from": options.since,
        "to": options.until,
        "rejected": "include" if options.rejected else None,
        "sensitive": "include" if options.sensitive else None,
        "formulas": "raw" if options.formulas_raw else None,
    }


def published(form: Form) -> list[FormDef]:
    """Published versions, oldest first."""
    return list(
        db.session.scalars(
            select(FormDef)
            .where(FormDef.form_id == form.id, FormDef.published_at.isnot(None))
            .order_by(FormDef.published_at, FormDef.id)
        )
    )


def _where(options: Options) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    mentions_review = False
    if options.filter:
        clause, mentions_review = parse_filter(options.filter)
        where.append(clause)
    if options.since:
        start, _ = _moment(options.since, "from")
        where.append(Submission.created_at >= start)
    if options.until:
        end, whole_day = _moment(options.until, "to")
        if whole_day:
            where.append(Submission.created_at < end + timedelta(days=1))
        else:
            where.append(Submission.created_at <= end)
    if not options.rejected and not mentions_review:
        where.append(or_(Submission.review_state.is_(None), Submission.review_state != "rejected"))
    return where


def _moment(text: str, name: str) -> tuple[datetime, bool]:
    """A date (midnight UTC, whole day) or a date-time (UTC if no offset) given in a query."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC), True
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise BadRequest(
            f"'{name}' must be a date like 2026-03-31 or a date-time like 2026-03-31T18:00:00Z, "
            f"not '{text}'."
        ) from e
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), False


# $filter: the subset of OData that Central accepts on submission exports -------------------------

_FILTER_COLUMNS: dict[str, Any] = {
    "__system/submissionDate": Submission.created_at,
    "__system/updatedAt": Submission.updated_at,
    "__system/submitterId": Submission.submitter_id,
    "__system/reviewState": Submission.review_state,
}
_DATE_COLUMNS = frozenset({"__system/submissionDate", "__system/updatedAt"})
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<punct>[(),])
    | (?P<word>[$A-Za-z_][\w$]*(?:/[\w$]+)*)
    )""",
    re.VERBOSE,
)
_COMPARISONS = {"eq", "ne", "lt", "le", "gt", "ge"}
_MIRRORED = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
_FUNCTIONS = {"year", "month", "day", "hour", "minute", "second"}


def parse_filter(text: str) -> tuple[ColumnElement[bool], bool]:
    """Turn a $filter into a SQL condition; also say whether it looks at the review state."""
    parser = _FilterParser(text)
    clause = parser.expression()
    if parser.peek() is not None:
        parser.fail(f"unexpected '{parser.peek()}'")
    return clause, parser.mentions_review


class _FilterParser:
    """Recursive descent: or < and < not < comparison, as OData orders them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        self.mentions_review = False
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                self.fail(f"cannot read '{text[pos:].strip()[:20]}'")
            assert match is not None and match.lastgroup is not None
            self.tokens.append((match.lastgroup, match.group(match.lastgroup)))
            pos = match.end()
        self.pos = 0

    def fail(self, why: str) -> NoReturn:
        raise BadRequest(
            f"The $filter expression could not be read: {why}. Filters compare "
            f"{', '.join(_FILTER_COLUMNS)} with eq, ne, lt, le, gt, ge, joined by and, or, not."
        )

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            self.fail("it ends too early")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        _, got = self.take()
        if got != value:
            self.fail(f"expected '{value}' but found '{got}'")

    def expression(self) -> ColumnElement[bool]:
        left = self.conjunction()
        while self.peek() == "or":
            self.take()
            left = or_(left, self.conjunction())
        return left

    def conjunction(self) -> ColumnElement[bool]:
        left = self.negation()
        while self.peek() == "and":
            self.take()
            left = and_(left, self.negation())
        return left

    def negation(self) -> ColumnElement[bool]:
        if self.peek() == "not":
            self.take()
            return ~self.negation()
        return self.comparison()

    def comparison(self) -> ColumnElement[bool]:
        if self.peek() == "(":
            start = self.pos
            try:
                self.take()
                inner: ColumnElement[bool] | None = self.expression()
                self.expect(")")
            except BadRequest:
                inner = None
            if inner is not None and self.peek() not in _COMPARISONS:
                return inner
            self.pos = start  # a parenthesised operand, e.g. (year(x)) eq 2026
        left, left_name = self.operand()
        op = self.peek()
        if op not in _COMPARISONS:
            self.fail(f"expected a comparison (eq, ne, lt, le, gt, ge) after '{left_name}'")
        self.take()
        right, right_name = self.operand()
        left = self._coerce(left, right_name)
        right = self._coerce(right, left_name)
        if not _is_sql(left) and _is_sql(right):
            # A literal on the left: turn the comparison round, so the column types the value.
            left, right = right, left
            op = _MIRRORED.get(op or "", op)
        elif not _is_sql(left) and left is not None:
            left = literal(left)
        if op in ("eq", "ne"):
            if right is None and left is None:
                same: ColumnElement[bool] = and_(True)
            elif right is None:
                same = left.is_(None)
            elif left is None:
                same = right.is_(None)
            else:
                same = left.is_not_distinct_from(right)
            return same if op == "eq" else ~same
        if left is None or right is None:
            self.fail("null can only be compared with eq or ne")
        compare = {
            "lt": left.__lt__,
            "le": left.__le__,
            "gt": left.__gt__,
            "ge": left.__ge__,
        }[op or ""]
        result: ColumnElement[bool] = compare(right)
        return result

    def operand(self) -> tuple[Any, str]:
        kind, value = self.take()
        if kind == "punct" and value == "(":
            inner, name = self.operand()
            self.expect(")")
            return inner, name
        if kind == "string":
            return value[1:-1].replace("''", "'"), "string"
        if kind == "datetime":
            return value, "literal-date"
        if kind == "number":
            return (float(value) if "." in value else int(value)), "number"
        if kind == "word" and value in _FILTER_COLUMNS:
            if value == "__system/reviewState":
                self.mentions_review = True
            return _FILTER_COLUMNS[value], value
        if kind == "word" and value == "null":
            return None, "null"
        if kind == "word" and value in ("now", *_FUNCTIONS) and self.peek() == "(":
            self.take()
            if value == "now":
                self.expect(")")
                return datetime.now(UTC), "now"
            inner, name = self.operand()
            self.expect(")")
            if name not in _DATE_COLUMNS:
                self.fail(f"{value}() takes a date column, not '{name}'")
            return extract(value, inner), "number"
        if kind == "word" and value.startswith("__system/"):
            self.fail(f"'{value}' cannot be filtered on here; use {', '.join(_FILTER_COLUMNS)}")
        self.fail(f"unknown term '{value}'")

    def _coerce(self, value: Any, other: str) -> Any:
        """Dates compare with date columns as UTC moments; other literals stay as written."""
        if isinstance(value, str) and (other in _DATE_COLUMNS or other == "now"):
            try:
                return _moment(value, "$filter")[0]
            except BadRequest:
                self.fail(f"'{value}' is not a date")
        return value


def _is_sql(value: Any) -> bool:
    return isinstance(value, ColumnElement | QueryableAttribute)


# Reading submissions ---------------------------------------------------------------------------


def records(
    form_id: int,
    where: Sequence[ColumnElement[bool]],
    versions: dict[int, str],
    batch: int,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> Generator[tuple[SubmissionInfo, dict[str, Any] | None]]:
    """Current versions of the live submissions, newest first by arrival, as Central lists them.

    `versions` maps form_def_id to the version string; `limit`/`offset` cut a page (OData).
    """
    other = aliased(SubmissionDef)
    # A first version names no deprecatedID, so only edited submissions count their versions.
    edits = case(
        (SubmissionDef.deprecated_id.is_(None), 0),
        else_=select(func.count(other.id) - 1)
        .where(other.submission_id == Submission.id)
        .scalar_subquery(),
    )
    stmt = (
        select(
            Submission.instance_id,
            Submission.created_at,
            Submission.submitter_id,
            Submission.device_id,
            Submission.review_state,
            SubmissionDef.form_def_id,
            SubmissionDef.attachments_present,
            SubmissionDef.attachments_expected,
            SubmissionDef.encrypted,
            edits,
            cast(SubmissionDef.data, Text),
            Submission.updated_at,
            Submission.id,
        )
        .join(
            SubmissionDef,
            and_(SubmissionDef.submission_id == Submission.id, SubmissionDef.current.is_(True)),
        )
        .where(Submission.form_id == form_id, Submission.deleted_at.is_(None), *where)
        # Newest first, as Central; by arrival (the id) rather than by created_at, which would
        # make the database sort every row, data and all, before sending the first.
        .order_by(Submission.id.desc())
        .limit(limit)
        .offset(offset or None)
        .execution_options(yield_per=batch)
    )
    names = _submitter_names(form_id)
    if db.session.get_bind().dialect.name == "postgresql":
        # Compiling this long scan to machine code costs more than it saves.
        db.session.execute(text("SET LOCAL jit = off"))
    result = db.session.connection().execute(stmt)
    try:
        for rows in result.partitions():
            for (
                instance_id,
                created_at,
                submitter_id,
                device_id,
                review_state,
                form_def_id,
                present,
                expected,
                encrypted,
                count,
                data,
                updated_at,
                row_id,
            ) in rows:
                info = SubmissionInfo(
                    instance_id,
                    created_at,
                    submitter_id,
                    names.get(submitter_id, ""),
                    present,
                    expected,
                    "not decrypted" if encrypted else "",
                    review_state,
                    device_id,
                    count,
                    versions.get(form_def_id, ""),
                    updated_at,
                    row_id,
                )
                yield info, (None if encrypted else _loads(data))
    finally:
        result.close()


def _submitter_names(form_id: int) -> dict[int | None, str]:
    submitters = select(Submission.submitter_id).where(Submission.form_id == form_id).distinct()
    return {
        actor_id: name
        for actor_id, name in db.session.execute(
            select(Actor.id, Actor.display_name).where(Actor.id.in_(submitters))
        )
    }


def _rows(plan: _Plan, batch: int) -> Iterator[tuple[int, Row]]:
    layout = plan.layout
    for info, values in records(plan.form_id, plan.where, plan.versions, batch):
        yield from layout.rows(info, values)


# CSV -------------------------------------------------------------------------------------------

# In a row joined with a \x1f before every cell: a cell that may start a formula (quick to find),
# and one that does and is no number.
_MAYBE_FORMULA = re.compile(r"\x1f[-=+@\t\r]")
_FORMULA_CELL = re.compile(
    r"\x1f(?=[-=+@\t\r])(?![-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:\x1f|\Z))"
)


class _CsvText:
    """CSV lines into a text buffer, quoted as csv-stringify quotes them (Central's writer)."""

    def __init__(self, neutralise: bool) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        # A lone CR inside a value must be quoted too, which Python's writer does only when CR
        # is part of the line terminator; such rows go through a second writer.
        self.cr_buffer = io.StringIO()
        self.cr_writer = csv.writer(self.cr_buffer, lineterminator="\r\n")
        self.neutralise = neutralise

    def write(self, row: Sequence[str]) -> None:
        try:
            joined = "\x1f" + "\x1f".join(row)
        except TypeError:  # a value that is not text: see tables._compile
            row = [v if isinstance(v, str) else "" for v in row]
            joined = "\x1f" + "\x1f".join(row)
        if self.neutralise and _MAYBE_FORMULA.search(joined):
            # Rewriting the joined row runs in C; XML text never holds \x1f, so cells split
            # back as they were unless metadata did, which the slow way handles.
            cells = _FORMULA_CELL.sub("\x1f'", joined).split("\x1f")[1:]
            row = cells if len(cells) == len(row) else [tables.neutralise(v) for v in row]
        if "\r" in joined:
            self.cr_writer.writerow(row)
            self.buffer.write(self.cr_buffer.getvalue()[:-2] + "\n")
            self.cr_buffer.seek(0)
            self.cr_buffer.truncate()
        else:
            self.writer.writerow(row)

    def size(self) -> int:
        return self.buffer.tell()

    def take(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8")


def _csv_chunks(plan: _Plan, tuning: Tuning) -> Iterator[bytes]:
    root = plan.layout.tables[0]
    out = _CsvText(not plan.options.formulas_raw)
    out.write(root.header)
    if plan.options.labels:
        out.write(root.labels)
    yield out.take()
    for _, row in _rows(plan, tuning.batch):
        out.write(row)
        if out.size() >= tuning.chunk:
            yield out.take()
    yield out.take()


# ZIP -------------------------------------------------------------------------------------------


class _Sink:
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


def _zip_chunks(plan: _Plan, tuning: Tuning) -> Iterator[bytes]:
    layout = plan.layout
    neutral = not plan.options.formulas_raw
    sink = _Sink()
    with contextlib.ExitStack() as stack:
        archive = zipfile.ZipFile(
            sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=tuning.compresslevel
        )
        texts = [_CsvText(neutral) for _ in layout.tables]
        # Repeat rows wait on disk while the root table streams: a ZIP entry is written whole.
        spools = [stack.enter_context(tempfile.TemporaryFile()) for _ in layout.tables[1:]]
        for table, text in zip(layout.tables, texts, strict=True):
            text.write(table.header)
            if plan.options.labels:
                text.write(table.labels)
        root_text = texts[0]
        with archive.open(f"{layout.tables[0].name}.csv", "w") as root_entry:
            root_entry.write(root_text.take())
            yield sink.take()
            for index, row in _rows(plan, tuning.batch):
                text = texts[index]
                text.write(row)
                if text.size() >= tuning.chunk:
                    if index == 0:
                        root_entry.write(text.take())
                        if sink.size >= tuning.chunk:
                            yield sink.take()
                    else:
                        spools[index - 1].write(text.take())
            root_entry.write(root_text.take())
        for index, table in enumerate(layout.tables[1:], start=1):
            spool = spools[index - 1]
            spool.write(texts[index].take())
            spool.seek(0)
            with archive.open(f"{table.name}.csv", "w") as entry:
                while block := spool.read(tuning.chunk):
                    entry.write(block)
                    if sink.size >= tuning.chunk:
                        yield sink.take()
            spool.close()
        if plan.options.attachments:
            yield from _media(plan, archive, sink, tuning)
        if layout.withheld:
            archive.writestr(NOTE_NAME, _note(layout).encode("utf-8"))
        archive.close()
        yield sink.take()


def _note(layout: Layout) -> str:
    lines = [
        "Columns left out of this export",
        "",
        "The form marks these questions as sensitive (personal data), so they were not",
        "exported, nor were files that only they refer to. A project manager can include them",
        "by asking for the export with sensitive=include.",
        "",
        *layout.withheld,
        "",
    ]
    return "\n".join(lines)


def _media(plan: _Plan, archive: zipfile.ZipFile, sink: _Sink, tuning: Tuning) -> Iterator[bytes]:
    """The files of the exported versions under media/, but none only sensitive answers name."""
    withheld = bool(plan.withheld_binaries)
    data = cast(SubmissionDef.data, Text) if withheld else null()
    stmt = (
        select(SubmissionAttachment.name, SubmissionDef.id, Blob, data)
        .join(SubmissionDef, SubmissionDef.id == SubmissionAttachment.submission_def_id)
        .join(Submission, Submission.id == SubmissionDef.submission_id)
        .join(Blob, Blob.id == SubmissionAttachment.blob_id)
        .where(
            SubmissionDef.current.is_(True),
            Submission.form_id == plan.form_id,
            Submission.deleted_at.is_(None),
            *plan.where,
        )
        .order_by(Submission.id.desc(), SubmissionAttachment.id)
        .execution_options(yield_per=tuning.batch)
    )
    seen: dict[str, str] = {}
    lost: list[str] = []
    hidden: tuple[int, set[str]] = (0, set())
    result = db.session.execute(stmt)
    try:
        for name, def_id, blob, values in result:
            sha256 = blob.sha256
            if withheld:
                if hidden[0] != def_id:
                    hidden = (def_id, _hidden_files(plan, _loads(values) if values else {}))
                if name in hidden[1]:
                    continue
            target = name
            if target in seen:
                if seen[target] == sha256:
                    continue
                stem, dot, suffix = name.rpartition(".")
                n = 2
                while (target := f"{stem}~{n}{dot}{suffix}" if dot else f"{name}~{n}") in seen:
                    n += 1
            seen[target] = sha256
            # Opened before its entry: a file the store has lost is left out and listed, and
            # the rest of the archive still arrives whole.
            try:
                opened = blobs.open(blob)
            except BlobMissing:
                lost.append(target)
                continue
            with opened, archive.open(f"media/{tables.safe_filename(target)}", "w") as entry:
                for block in opened:
                    entry.write(block)
                    if sink.size >= tuning.chunk:
                        yield sink.take()
            db.session.expunge(blob)  # keep the session small over many files
    finally:
        result.close()
    if lost:
        archive.writestr(MISSING_NAME, _missing_note(lost).encode("utf-8"))


def _missing_note(lost: list[str]) -> str:
    lines = [
        "Files missing from this export",
        "",
        "The server has a record of these files but their bytes are missing from its file",
        "store, so they could not be exported. An administrator can check the store with",
        "`collect blobs check`.",
        "",
        *lost,
        "",
    ]
    return "\n".join(lines)


def _hidden_files(plan: _Plan, values: dict[str, Any]) -> set[str]:
    """Files a version names only in withheld (sensitive) binary questions."""
    hidden: set[str] = set()
    shown: set[str] = set()

    def visit(node: dict[str, Any]) -> None:
        for path, value in node.items():
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        visit(item)
            elif path in plan.binary_paths and isinstance(value, str) and value.strip():
                (hidden if path in plan.withheld_binaries else shown).add(value.strip())

    visit(values)
    return hidden - shown


# XLSX ------------------------------------------------------------------------------------------


def _xlsx_chunks(plan: _Plan, tuning: Tuning) -> Iterator[bytes]:
    """The workbook as a ZIP streamed like the CSV zip: the root sheet as rows arrive, the
    repeat sheets from temporary files after it, the parts that list the sheets last."""
    sink = _Sink()
    with contextlib.ExitStack() as stack:
        archive = zipfile.ZipFile(
            sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=tuning.compresslevel
        )
        archive.writestr("_rels/.rels", xlsx_stream.ROOT_RELS)
        archive.writestr("xl/styles.xml", xlsx_stream.STYLES)
        book = _Book(plan, archive, stack, tuning.chunk)
        yield sink.take()
        for index, row in _rows(plan, tuning.batch):
            if book.write(index, row) and sink.size >= tuning.chunk:
                yield sink.take()
        book.finish_root()
        yield sink.take()
        for spool, entry in book.spooled:
            spool.seek(0)
            with archive.open(
                f"xl/worksheets/sheet{entry.number}.xml", "w", force_zip64=True
            ) as target:
                while block := spool.read(tuning.chunk):
                    target.write(block)
                    if sink.size >= tuning.chunk:
                        yield sink.take()
            spool.close()
        entries = [e for parts in book.entries for e in parts]
        for entry in entries:
            if entry.comment:
                n = entry.comment
                archive.writestr(
                    f"xl/worksheets/_rels/sheet{entry.number}.xml.rels",
                    xlsx_stream.sheet_rels(entry),
                )
                archive.writestr(f"xl/comments{n}.xml", xlsx_stream.comments(book.notes[n]))
                archive.writestr(f"xl/drawings/vmlDrawing{n}.vml", xlsx_stream.vml(n))
        archive.writestr("xl/workbook.xml", xlsx_stream.workbook(entries))
        archive.writestr("xl/_rels/workbook.xml.rels", xlsx_stream.workbook_rels(entries))
        archive.writestr("[Content_Types].xml", xlsx_stream.content_types(entries))
        archive.close()
        yield sink.take()


class _Book:
    """One worksheet per table, written row by row: the root's straight into its ZIP entry,
    the repeats' into temporary files; a table past Excel's last row continues on a sheet of
    its own."""

    def __init__(
        self, plan: _Plan, archive: zipfile.ZipFile, stack: contextlib.ExitStack, chunk: int
    ) -> None:
        self.plan = plan
        self.archive = archive
        self.stack = stack
        self.chunk = chunk
        self.header_rows = 2 if plan.options.labels else 1
        neutral = not plan.options.formulas_raw
        tables_ = plan.layout.tables
        self.sheets = [
            xlsx_stream.Sheet([c.type for c in t.columns], neutral, self.header_rows)
            for t in tables_
        ]
        self.used: set[str] = set()
        self.entries: list[list[xlsx_stream.Entry]] = [[] for _ in tables_]
        self.notes: dict[int, str] = {}
        self.spooled: list[tuple[IO[bytes], xlsx_stream.Entry]] = []
        self.numbers = 0
        self.buffers: list[list[str]] = [[] for _ in tables_]
        self.sizes = [0] * len(tables_)
        self.next_row = [0] * len(tables_)
        self.targets: list[IO[bytes]] = [None] * len(tables_)  # type: ignore[list-item]
        for index in range(len(tables_)):
            self._open(index)

    def _name(self, index: int, part: int) -> str:
        layout = self.plan.layout
        table = layout.tables[index]
        base = table.name if index == 0 else table.name[len(layout.tables[0].name) + 1 :]
        base = re.sub(r"[\[\]:*?/\\]", "_", base).strip("'") or "Sheet"
        suffix = f" ({part})" if part > 1 else ""
        name = base[: 31 - len(suffix)] + suffix
        n = 2
        while name.casefold() in self.used:
            tag = f"~{n}"
            name = base[: 31 - len(tag) - len(suffix)] + tag + suffix
            n += 1
        self.used.add(name.casefold())
        return name

    def _open(self, index: int) -> None:
        table = self.plan.layout.tables[index]
        part = len(self.entries[index]) + 1
        self.numbers += 1
        entry = xlsx_stream.Entry(self._name(index, part), self.numbers)
        note = self._withheld_note(index) if part == 1 else ""
        if note:
            entry.comment = len(self.notes) + 1
            self.notes[entry.comment] = note
        self.entries[index].append(entry)
        target: IO[bytes]
        if index == 0:
            target = self.archive.open(
                f"xl/worksheets/sheet{entry.number}.xml", "w", force_zip64=True
            )
        else:
            target = self.stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
            self.spooled.append((target, entry))
        self.targets[index] = target
        labels = table.labels if self.header_rows == 2 else None
        first = index == 0 and part == 1
        self._add(index, self.sheets[index].head(table.header, labels, first))
        self.next_row[index] = self.header_rows

    def _withheld_note(self, index: int) -> str:
        layout = self.plan.layout
        table = layout.tables[index]
        lines = list(table.withheld)
        if index == 0:
            lines.extend(f"{name} (the whole table)" for name in layout.withheld_tables)
        if not lines:
            return ""
        return (
            "Left out as sensitive (personal data); a project manager can include them with "
            "sensitive=include:\n" + "\n".join(lines)
        )

    def _add(self, index: int, text: str) -> bool:
        """Buffer text for a table; hand the buffer on once it is a chunk (then say so)."""
        self.buffers[index].append(text)
        self.sizes[index] += len(text)
        if self.sizes[index] < self.chunk:
            return False
        self._flush(index)
        return True

    def _flush(self, index: int) -> None:
        self.targets[index].write("".join(self.buffers[index]).encode("utf-8"))
        self.buffers[index].clear()
        self.sizes[index] = 0

    def _close(self, index: int) -> None:
        entry = self.entries[index][-1]
        self.buffers[index].append(xlsx_stream.Sheet.foot(bool(entry.comment)))
        self._flush(index)
        if index == 0:
            self.targets[0].close()

    def write(self, index: int, row: Row) -> bool:
        """Add a row; say whether root bytes went into the archive."""
        at = self.next_row[index]
        if at >= XLSX_MAX_ROWS:
            self._close(index)
            self._open(index)
            at = self.next_row[index]
        self.next_row[index] = at + 1
        return self._add(index, self.sheets[index].row(at + 1, row)) and index == 0

    def finish_root(self) -> None:
        """End the root sheet's entry and the repeat sheets' temporary files."""
        for index in range(len(self.sheets)):
            self._close(index)
