"""Current versions of a form's live submissions, read in bulk from a cursor, with `$filter`.

Exports and the OData feed read submissions through `records`: newest first by arrival, as
Central lists them, the stored values parsed once (orjson), never all in memory. `parse_filter`
turns the subset of OData's `$filter` that Central accepts into a SQL condition.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, NoReturn

import orjson
from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import QueryableAttribute, aliased

from collect.domain.exports.tables import SubmissionInfo
from collect.errors import BadRequest
from collect.storage.db import db
from collect.storage.models import (
    Actor,
    Submission,
    SubmissionDef,
)


def moment(text: str, name: str) -> tuple[datetime, bool]:
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
                return moment(value, "$filter")[0]
            except BadRequest:
                self.fail(f"'{value}' is not a date")
        return value


def _is_sql(value: Any) -> bool:
    return isinstance(value, ColumnElement | QueryableAttribute)


# Reading submissions ---------------------------------------------------------------------------


def current(
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
                yield info, (None if encrypted else orjson.loads(data))
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
