"""The evaluation report of a project, computed on request from the submissions that count.

The arithmetic is pure and lives in `compute` (with `indicators` for the sheet and
`expressions` for its conditions); this module finds the published forms, reads what their
indicators need from the database, and hands plain records to `compute.build`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Select, Text, cast, func, null, or_, select
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from collect.domain.evaluation import compute
from collect.domain.evaluation.indicators import Indicator, Question, questions
from collect.domain.forms import disclosures
from collect.domain.forms import fields as form_fields
from collect.domain.people import access
from collect.errors import BadRequest
from collect.storage.db import db
from collect.storage.models import Actor, Form, FormDef, FormField, Submission, SubmissionDef

REJECTED = "rejected"
# Rows fetched from the cursor at a time: large enough to keep round trips few, small enough
# that a 100,000-submission form never sits in the driver's buffers all at once.
BATCH = 2000
MAX_THREADS = 4


# The report -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Published:
    """A published form: its questions (sensitive as the disclosure rule says, for anyone)
    and indicators."""

    id: int
    xml_form_id: str
    questions: Mapping[str, Question]
    indicators: tuple[Indicator, ...]


def _for_managers(indicator: Indicator, by_form: Mapping[str, _Published], form_id: str) -> bool:
    """Whether only readers who see sensitive answers may see an indicator: it is marked
    restricted, or it reads a question the rule hides now (a version published or drafted
    after the sheet was checked may have marked it)."""
    if indicator.restricted:
        return True
    names = {n for n in (indicator.field, indicator.key) if n}
    for expression in (indicator.where, indicator.condition):
        if expression is not None:
            names |= expression.refs
    names |= {part.question for dimension in indicator.by for part in dimension.parts}
    forms = [by_form[form_id]]
    if indicator.baseline_form in by_form:
        forms.append(by_form[indicator.baseline_form or ""])
    return any(q.sensitive for f in forms for n in names if (q := f.questions.get(n)))


def report(
    actor: Actor,
    project_id: int,
    *,
    from_: date | datetime | None = None,
    to: date | datetime | None = None,
    lang: str | None = None,
) -> compute.Report:
    """Compute the project's evaluation report on the submissions dated from `from_` to `to`.

    A submission's date is when the server first received it (Central's submissionDate), so an
    edit does not move it out of its period. Dates are whole days in UTC, `to` included;
    datetimes are instants (naive ones are UTC). Only committed submissions are read.
    """
    project = access.require(actor, "evaluation.read", project_id)
    sees_sensitive = disclosures.SEES_SENSITIVE in access.project_verbs(actor, project_id)
    start, end = _bounds(from_, to)
    published = _published(project_id)
    by_form = {p.xml_form_id: p for p in published}
    ordered: list[Indicator] = []
    indicator_forms: dict[str, str] = {}
    withheld = 0
    for form in published:
        for indicator in form.indicators:
            if indicator.name in indicator_forms:  # names are unique; an old clash is skipped
                continue
            indicator_forms[indicator.name] = form.xml_form_id
            if _for_managers(indicator, by_form, form.xml_form_id):
                if not sees_sensitive:
                    withheld += 1
                    continue
                indicator = dataclasses.replace(indicator, restricted=True)
            ordered.append(indicator)
    needed = _needed_questions(ordered, indicator_forms, by_form)
    queries = {
        form_id: _query(by_form[form_id].id, names, start, end) for form_id, names in needed.items()
    }
    records = _fetch_all(queries)
    built = compute.build(
        ordered,
        records,
        indicator_forms,
        {p.xml_form_id: p.questions for p in published},
        min_cell=project.min_cell,
        lang=lang,
    )
    return dataclasses.replace(built, withheld=withheld)


def _bounds(
    from_: date | datetime | None, to: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The period as [start, end): a `to` date includes its whole day."""
    start = end = None
    if from_ is not None:
        start = _instant(from_)
    if to is not None:
        end = _instant(to)
        end = end + timedelta(microseconds=1) if isinstance(to, datetime) else end + timedelta(1)
    if start is not None and end is not None and start >= end:
        raise BadRequest("The period is empty: 'from' must come before 'to'.")
    return start, end


def _instant(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _published(project_id: int) -> list[_Published]:
    """The project's published forms, oldest first, so the report follows the forms' order."""
    rows = db.session.execute(
        select(Form, FormDef)
        .join(FormDef, FormDef.id == Form.current_def_id)
        .where(Form.project_id == project_id, Form.deleted_at.is_(None))
        .order_by(Form.id)
    ).all()
    return [
        _Published(
            form.id,
            form.xml_form_id,
            questions(
                form_fields.of(definition),
                disclosures.for_form(form, sees_sensitive=False).hides_question,
            ),
            tuple(Indicator.from_dict(d) for d in definition.indicators or ()),
        )
        for form, definition in rows
    ]


def _needed_questions(
    indicators: Sequence[Indicator],
    indicator_forms: Mapping[str, str],
    by_form: Mapping[str, _Published],
) -> dict[str, set[str]]:
    """For each form whose submissions a report reads, the questions it reads from them."""
    needed: dict[str, set[str]] = {}
    for indicator in indicators:
        names = needed.setdefault(indicator_forms[indicator.name], set())
        names.update(n for n in (indicator.field, indicator.key) if n)
        for expression in (indicator.where, indicator.condition):
            if expression is not None:
                names.update(expression.refs)
        names.update(part.question for dimension in indicator.by for part in dimension.parts)
        baseline = indicator.baseline_form
        if indicator.type == "change" and baseline in by_form:
            assert baseline is not None
            needed.setdefault(baseline, set()).update(
                n for n in (indicator.field, indicator.key) if n
            )
    return needed


def _answer_paths(form_id: int, names: Iterable[str]) -> dict[str, list[str]]:
    """Where each question's answer sits in a submission's data, in any published version.

    A question moved into a group in a later version keeps its name but changes its path.
    """
    wanted = set(names)
    rows = db.session.execute(
        select(FormField.name, FormField.path)
        .join(FormDef, FormDef.id == FormField.form_def_id)
        .where(
            FormDef.form_id == form_id,
            FormDef.published_at.isnot(None),
            FormField.repeat.is_(None),
            FormField.name.in_(wanted),
        )
        .order_by(FormDef.id.desc())
    ).all()
    paths: dict[str, list[str]] = {name: [] for name in sorted(wanted)}
    for name, path in rows:
        if path not in paths[name] and not path.startswith("/meta/"):
            paths[name].append(path)
    return paths


@dataclass(frozen=True)
class _Query:
    """How to read one form's counting records: the statement and how to read its rows."""

    stmt: Select[Any]
    columns: tuple[str, ...]  # question names, in the statement's order (SQLite)
    paths: Mapping[str, Sequence[str]]  # where each question's answer is (PostgreSQL)
    parse: bool  # the statement returns the JSON text, to be parsed here


def _query(
    form_id: int, names: Iterable[str], start: datetime | None, end: datetime | None
) -> _Query:
    """The statement that reads the submissions of a form that count, with answers to `names`."""
    paths = _answer_paths(form_id, names)
    columns = tuple(paths)
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite's json_extract parses a row's JSON once for all the answers asked of it.
        answers = [_answer(paths[name]) for name in columns]
        return _Query(_counting(form_id, answers, start, end), columns, paths, parse=False)
    # PostgreSQL's json type (text, not jsonb) is parsed again for every ->>, so fetching the
    # text once and parsing it here is several times faster.
    data = [cast(SubmissionDef.data, Text)]
    return _Query(_counting(form_id, data, start, end), columns, paths, parse=True)


def _fetch_all(queries: Mapping[str, _Query]) -> dict[str, list[compute.Record]]:
    """Run the forms' queries side by side, each on its own connection.

    The database works on one form while Python turns the other's rows into records: the
    drivers release the GIL while they wait. Reads only, so no transaction needs sharing.
    """
    # An in-memory SQLite database lives in one connection: it cannot be read side by side.
    if len(queries) < 2 or isinstance(db.engine.pool, StaticPool | SingletonThreadPool):
        connection = db.session.connection()
        return {form_id: _fetch(connection, q) for form_id, q in queries.items()}
    engine = db.engine

    def fetch(query: _Query) -> list[compute.Record]:
        with engine.connect() as connection:
            return _fetch(connection, query)

    with ThreadPoolExecutor(max_workers=min(len(queries), MAX_THREADS)) as pool:
        futures = {form_id: pool.submit(fetch, q) for form_id, q in queries.items()}
        return {form_id: future.result() for form_id, future in futures.items()}


def _rows(connection: Connection, stmt: Select[Any]) -> Iterator[Sequence[Any]]:
    """The statement's rows as they arrive: never all in memory, and no ORM objects."""
    if connection.dialect.driver == "psycopg":
        # A server-side cursor (SQLAlchemy's yield_per) makes PostgreSQL wait for each FETCH;
        # psycopg's stream() lets it send rows while Python is still busy with earlier ones.
        compiled = stmt.compile(dialect=connection.dialect)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            yield from cursor.stream(compiled.string, compiled.params, size=BATCH)
        finally:
            cursor.close()
        return
    result = connection.execute(stmt.execution_options(yield_per=BATCH))
    for partition in result.partitions():
        yield from partition


def _fetch(connection: Connection, query: _Query) -> list[compute.Record]:
    """The query's rows as records (see `compute.Record`): answers, id and time of receipt."""
    rows = _rows(connection, query.stmt)
    if not query.parse:
        keys = (compute.ID, compute.RECEIVED, *query.columns)
        return [dict(zip(keys, r, strict=True)) for r in rows]
    paths = query.paths
    if all(len(where) == 1 for where in paths.values()):
        single = [(name, where[0]) for name, where in paths.items()]
        # Parsing a whole document to keep a few answers leaves those scattered in memory, which
        # slows every later loop over the records; one shared copy of each answer (most recur:
        # a sex, a score) keeps them compact.
        seen: dict[str | None, str | None] = {}

        def answers(row: Sequence[Any]) -> compute.Record:
            data = orjson.loads(row[2]) or {}
            found: dict[str, Any] = {
                name: seen.setdefault(v := data.get(path), v) for name, path in single
            }
            found[compute.ID], found[compute.RECEIVED] = row[0], row[1]
            return found

        return [answers(r) for r in rows]
    return [compute.record(r[0], r[1], _pick(orjson.loads(r[2]) or {}, paths)) for r in rows]


def _pick(data: Mapping[str, Any], paths: Mapping[str, Sequence[str]]) -> dict[str, str | None]:
    """The answers to the questions at `paths` (the first path present, for a moved question)."""
    picked: dict[str, str | None] = {}
    for name, where in paths.items():
        value = None
        for path in where:
            value = data.get(path)
            if value is not None:
                break
        picked[name] = value
    return picked


def _answer(paths: Sequence[str]) -> ColumnElement[Any]:
    """An answer as text, taken from the JSON by the database."""
    if not paths:
        return null()  # a baseline form uploaded as XForm XML may lack the question
    extracts = [SubmissionDef.data[path].as_string() for path in paths]
    return extracts[0] if len(extracts) == 1 else func.coalesce(*extracts)


def _counting(
    form_id: int,
    answers: Sequence[ColumnElement[Any]],
    start: datetime | None,
    end: datetime | None,
) -> Select[Any]:
    """The current version of each live, not rejected submission received in the period.

    Receiving an edit flips the previous version's `current` flag in the same transaction, so
    each submission has exactly one current version: the latest one received.
    """
    stmt = (
        select(SubmissionDef.submission_id, SubmissionDef.created_at, *answers)
        .join(Submission, Submission.id == SubmissionDef.submission_id)
        .where(
            SubmissionDef.form_id == form_id,
            SubmissionDef.current.is_(True),
            Submission.form_id == form_id,
            Submission.deleted_at.is_(None),
            or_(Submission.review_state.is_(None), Submission.review_state != REJECTED),
        )
    )
    if start is not None:
        stmt = stmt.where(Submission.created_at >= start)
    if end is not None:
        stmt = stmt.where(Submission.created_at < end)
    return stmt
