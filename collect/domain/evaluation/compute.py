"""The report's arithmetic: indicators computed on plain records, small cells suppressed.

Pure: no Flask, no database. `report.py` loads the records; `render.py` turns the result
into JSON, the tidy CSV and the workbook.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collect.domain.evaluation.expressions import Expression, Values, to_number
from collect.domain.evaluation.indicators import (
    SECTIONS,
    Dimension,
    Indicator,
    Part,
    Question,
    pick_label,
)

NO_ANSWER = "(no answer)"
CROSS_LABEL = " \N{MULTIPLICATION SIGN} "  # joins crossed labels: "female × nhri"
OUTSIDE_BANDS = "(outside bands)"
SECTION_LABELS = {"participation": "Participation", "impact": "Impact"}
CHANGE_MEASURES = (
    "mean_change",
    "baseline_mean",
    "endline_mean",
    "percent_improved",
    "pairs",
    "unmatched_endline",
    "unmatched_baseline",
)
MEASURE_LABELS = {
    "count": "Count",
    "distinct": "Distinct",
    "sum": "Sum",
    "mean": "Mean",
    "percent": "Percent",
    "mean_change": "Mean change",
    "baseline_mean": "Baseline mean",
    "endline_mean": "Endline mean",
    "percent_improved": "% improved",
    "pairs": "Pairs",
    "unmatched_endline": "Unmatched endline",
    "unmatched_baseline": "Unmatched baseline",
}


# One submission that counts: its latest version, not rejected, inside the period. Its answers
# by question name (raw text; a select_multiple's choices space-separated), plus two entries
# that no question can be named: the submission's logical id (the same across edits) and when
# it was first received.
#
# A dict, not an object: reports hold 100,000s of records, and a dict of text, numbers and
# datetimes is not tracked by the cycle collector, so the collections that the report's own
# allocations set off do not scan every record again and again (a class instance, or a tuple
# holding a dict, would be scanned at each one; that doubled a 200,000-submission report).
Record = Mapping[str, Any]
ID = "\0id"
RECEIVED = "\0received"


def record(
    submission_id: object, received_at: datetime, answers: Mapping[str, str | None]
) -> Record:
    """A record (see `Record`)."""
    return {**answers, ID: submission_id, RECEIVED: received_at}


def answer(of: Record, name: str) -> str:
    """A record's answer to a question, stripped; "" when not answered."""
    value = of.get(name)
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class Row:
    """One published cell; `value` and `n` are None when suppressed or when nothing was answered."""

    measure: str
    dimension: str  # "" on total rows
    category: str
    category_label: str
    value: float | None
    n: int | None
    suppressed: bool


@dataclass(frozen=True)
class Block:
    """The rows of one `by` item."""

    dimension: str
    label: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class IndicatorReport:
    name: str
    label: str
    section: str
    type: str
    target: float | None
    achievement: float | None  # value / target x 100, when both are known
    waiting_for: str | None  # the baseline form a change waits for
    total: tuple[Row, ...]  # one row per measure, the headline first
    blocks: tuple[Block, ...]
    restricted: bool = False  # shown to project managers only

    @property
    def headline(self) -> Row:
        return self.total[0]


@dataclass(frozen=True)
class Section:
    name: str
    label: str
    indicators: tuple[IndicatorReport, ...]


@dataclass(frozen=True)
class Report:
    sections: tuple[Section, ...]
    min_cell: int
    withheld: int = 0  # restricted indicators left out for this reader

    def indicator(self, name: str) -> IndicatorReport:
        """Find an indicator's results by name."""
        for section in self.sections:
            for indicator in section.indicators:
                if indicator.name == name:
                    return indicator
        raise KeyError(name)


# Units: what an indicator counts ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Units:
    """The submissions an indicator counts, and for a change each one's (baseline, endline).

    Two lists rather than an object per submission, for the collector's sake (see `Record`).
    """

    records: list[Record]
    pairs: list[tuple[float, float] | None] | None = None


@dataclass(frozen=True)
class _Cell:
    value: float | None
    n: int
    persons: float  # what small-cell suppression checks


# Measures that describe the same persons are suppressed together.
_CHANGE_FAMILIES = (
    ("mean_change", "baseline_mean", "endline_mean", "percent_improved", "pairs"),
    ("unmatched_endline",),
    ("unmatched_baseline",),
)


def _families(kind: str) -> tuple[tuple[str, ...], ...]:
    return _CHANGE_FAMILIES if kind == "change" else ((kind,),)


_RECEIVED = operator.itemgetter(RECEIVED, ID)


def _latest(records: Sequence[Record]) -> list[Record]:
    """Oldest first, so that the latest submission of a person is the one kept."""
    return sorted(records, key=_RECEIVED)


def _person(value: str) -> str:
    # Codes typed by hand on phones vary in case and stray spaces; they still name one person.
    return " ".join(value.split()).casefold()


def _numeric(record: Record, field: str) -> float | None:
    return _number(answer(record, field))


@functools.lru_cache(maxsize=4096)
def _number(text: str) -> float | None:
    # Answers repeat (scores, ages): parsing each text once matters with 100,000 submissions.
    number = to_number(text)
    return number if math.isfinite(number) else None


def _holds(expression: Expression | None) -> Callable[[Values], bool]:
    """Evaluate `expression`, once per combination of the answers it refers to."""
    if expression is None:
        return lambda values: False
    refs = tuple(sorted(expression.refs))
    known: dict[tuple[str | None, ...], bool] = {}

    def holds(values: Values) -> bool:
        key = tuple([values.get(ref) for ref in refs])
        found = known.get(key)
        if found is None:
            found = known[key] = expression.holds(values)
        return found

    return holds


def _units(
    indicator: Indicator, records: Sequence[Record], baseline: Sequence[Record]
) -> tuple[_Units, int]:
    """The units an indicator counts, and for a change the keys found only in the baseline."""
    where = _holds(indicator.where) if indicator.where is not None else None
    kept = [r for r in records if where is None or where(r)]
    field = indicator.field or ""
    if indicator.type == "distinct":
        # A person is placed in the categories of their latest submission.
        by_person = {_person(answer(r, field)): r for r in _latest(kept) if answer(r, field)}
        return _Units(list(by_person.values())), 0
    if indicator.type == "change":
        # `where` names this form's questions, so it filters the endline side only.
        return _pairs(kept, baseline, field, indicator.key or "")
    return _Units(kept), 0


def _by_key(
    records: Sequence[Record], field: str, key: str
) -> tuple[dict[str, Record], dict[str, float]]:
    """Each person's latest record with `field` answered, and its value (two dicts, in step)."""
    latest: dict[str, Record] = {}
    values: dict[str, float] = {}
    for record in _latest(records):
        person = answer(record, key)
        value = _numeric(record, field) if person else None
        if value is not None:
            latest[_person(person)] = record
            values[_person(person)] = value
    return latest, values


def _pairs(
    endline: Sequence[Record], baseline: Sequence[Record], field: str, key: str
) -> tuple[_Units, int]:
    after, after_values = _by_key(endline, field, key)
    _, before = _by_key(baseline, field, key)
    pairs = [(before[k], value) if k in before else None for k, value in after_values.items()]
    return _Units(list(after.values()), pairs), len(before.keys() - after.keys())


# Measures ------------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _percent(hits: int, base: int) -> float | None:
    return 100 * hits / base if base else None


# What one unit adds to a cell: a number (sum, mean), whether the condition holds (percent) or
# a (baseline, endline) pair (change); None when the unit's field is not answered. Computed once
# per unit, then shared by the total and every block.
Contribution = Any


def _contributions(indicator: Indicator, units: _Units) -> list[Contribution]:
    field = indicator.field or ""
    records = units.records
    if indicator.type in ("count", "distinct"):
        return [None] * len(records)
    if indicator.type in ("sum", "mean"):
        return [_numeric(r, field) for r in records]
    if indicator.type == "percent":
        condition = _holds(indicator.condition)
        return [condition(r) if answer(r, field) else None for r in records]
    assert units.pairs is not None
    return list(units.pairs)


def _measure(kind: str, contributions: Sequence[Contribution]) -> dict[str, _Cell]:
    """The cells of one category (or the total) from its units' contributions."""
    if kind in ("count", "distinct"):
        return {kind: _Cell(len(contributions), len(contributions), len(contributions))}
    if kind in ("sum", "mean"):
        numbers = [x for x in contributions if x is not None]
        if kind == "sum":
            return {"sum": _Cell(sum(numbers), len(numbers), sum(numbers))}
        return {"mean": _Cell(_mean(numbers), len(numbers), len(numbers))}
    if kind == "percent":
        answered = [hit for hit in contributions if hit is not None]
        hits = sum(1 for hit in answered if hit)
        return {"percent": _Cell(_percent(hits, len(answered)), len(answered), len(answered))}
    return _change(contributions)


def _change(contributions: Sequence[tuple[float, float] | None]) -> dict[str, _Cell]:
    pairs = [pair for pair in contributions if pair is not None]
    n, unmatched = len(pairs), len(contributions) - len(pairs)
    improved = sum(1 for before, after in pairs if after > before)
    return {
        "mean_change": _Cell(_mean([after - before for before, after in pairs]), n, n),
        "baseline_mean": _Cell(_mean([before for before, _ in pairs]), n, n),
        "endline_mean": _Cell(_mean([after for _, after in pairs]), n, n),
        "percent_improved": _Cell(_percent(improved, n), n, n),
        "pairs": _Cell(n, n, n),
        "unmatched_endline": _Cell(unmatched, unmatched, unmatched),
    }


# Disaggregation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Axis:
    """The categories of a `by` item and, for each unit, the categories it falls in."""

    categories: list[tuple[str, str]]  # (name, label) in report order
    members: list[tuple[str, ...]]  # aligned with the units


def _part_axis(
    part: Part, question: Question | None, records: Sequence[Record], lang: str | None
) -> _Axis:
    if part.bands:
        return _band_axis(part, records)
    multiple = question is not None and question.type == "select_multiple"
    members: list[tuple[str, ...]] = []
    for record in records:
        given = answer(record, part.question)
        chosen = tuple(dict.fromkeys(given.split())) if multiple else (given,)
        members.append(chosen if given else (NO_ANSWER,))
    choices = question.choices if question else ()
    categories = [(c.name, pick_label(c.labels, lang) or c.name) for c in choices]
    listed = {c.name for c in choices}
    # Answers outside the list (a choice removed in a later version) keep the block complete.
    extra = dict.fromkeys(m for ms in members for m in ms if m not in listed and m != NO_ANSWER)
    categories += [(name, name) for name in extra]
    return _Axis(categories + _if_seen(members, NO_ANSWER), members)


def _band_axis(part: Part, records: Sequence[Record]) -> _Axis:
    members: list[tuple[str, ...]] = []
    for record in records:
        given = answer(record, part.question)
        number = to_number(given)
        band = next((b.label for b in part.bands if b.contains(number)), OUTSIDE_BANDS)
        members.append((band if given else NO_ANSWER,))
    categories = [(b.label, b.label) for b in part.bands]
    return _Axis(categories + _if_seen(members, OUTSIDE_BANDS, NO_ANSWER), members)


def _if_seen(members: Sequence[Sequence[str]], *names: str) -> list[tuple[str, str]]:
    seen = {m for ms in members for m in ms}
    return [(name, name) for name in names if name in seen]


def _axis(
    dimension: Dimension,
    questions: Mapping[str, Question],
    records: Sequence[Record],
    lang: str | None,
) -> _Axis:
    axes = [_part_axis(p, questions.get(p.question), records, lang) for p in dimension.parts]
    if len(axes) == 1:
        return axes[0]
    categories = [
        ("*".join(name for name, _ in combo), CROSS_LABEL.join(label for _, label in combo))
        for combo in itertools.product(*(a.categories for a in axes))
    ]
    members = [
        tuple("*".join(combo) for combo in itertools.product(*(a.members[i] for a in axes)))
        for i in range(len(records))
    ]
    return _Axis(categories, members)


def _dimension_label(
    dimension: Dimension, questions: Mapping[str, Question], lang: str | None
) -> str:
    labels = []
    for part in dimension.parts:
        question = questions.get(part.question)
        labels.append((pick_label(question.labels, lang) if question else None) or part.question)
    return CROSS_LABEL.join(labels)


# Suppression ---------------------------------------------------------------------------------


def _primary(persons: float, min_cell: int) -> bool:
    return 0 < persons < min_cell


def _suppress(persons: Sequence[float], total_hidden: bool, min_cell: int) -> list[bool]:
    """Which categories of a block to hide: small cells, then one more if only one is small."""
    hidden = [_primary(p, min_cell) for p in persons]
    if not total_hidden and sum(hidden) == 1:
        # Total minus the published cells would reveal the only hidden one.
        others = [(p, i) for i, p in enumerate(persons) if p > 0 and not hidden[i]]
        if others:
            hidden[min(others)[1]] = True
    return hidden


def _rows(
    cells: Mapping[str, _Cell],
    hidden: Mapping[str, bool],
    dimension: str,
    category: tuple[str, str],
) -> list[Row]:
    return [
        Row(
            measure=measure,
            dimension=dimension,
            category=category[0],
            category_label=category[1],
            value=None if hidden[measure] else cell.value,
            n=None if hidden[measure] else cell.n,
            suppressed=hidden[measure],
        )
        for measure, cell in cells.items()
    ]


def _family_of(kind: str) -> dict[str, tuple[str, ...]]:
    return {m: family for family in _families(kind) for m in family}


# Building ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    min_cell: int
    lang: str | None
    # Units and categories several indicators share (the same form, `where` and `by` item),
    # computed once per report.
    shared: dict[tuple[Any, ...], Any] = dataclasses.field(default_factory=dict, compare=False)


def build(
    indicators: Sequence[Indicator],
    records_by_form: Mapping[str, Sequence[Record]],
    indicator_forms: Mapping[str, str],
    questions_by_form: Mapping[str, Mapping[str, Question]],
    *,
    min_cell: int,
    lang: str | None,
) -> Report:
    """Compute every indicator on the records that count, then suppress small cells.

    `questions_by_form` must hold every form of the project: a change whose baseline form is
    not there is reported as waiting for it.
    """
    settings = _Settings(min_cell, lang)
    results = []
    for indicator in indicators:
        form = indicator_forms[indicator.name]
        baseline = indicator.baseline_form or ""
        if indicator.type == "change" and baseline not in questions_by_form:
            results.append(_waiting(indicator, baseline, lang))
            continue
        results.append(
            _indicator(
                indicator,
                records_by_form.get(form, ()),
                records_by_form.get(baseline, ()),
                questions_by_form.get(form, {}),
                settings,
            )
        )
    sections = tuple(
        Section(name, SECTION_LABELS[name], tuple(r for r in results if r.section == name))
        for name in SECTIONS
    )
    return Report(sections, min_cell)


def _waiting(indicator: Indicator, baseline: str, lang: str | None) -> IndicatorReport:
    total = tuple(Row(m, "", "", "", None, None, False) for m in CHANGE_MEASURES)
    return IndicatorReport(
        name=indicator.name,
        label=indicator.label(lang),
        section=indicator.section,
        type=indicator.type,
        target=indicator.target,
        achievement=None,
        waiting_for=baseline,
        total=total,
        blocks=(),
        restricted=indicator.restricted,
    )


def _indicator(
    indicator: Indicator,
    records: Sequence[Record],
    baseline: Sequence[Record],
    questions: Mapping[str, Question],
    settings: _Settings,
) -> IndicatorReport:
    key = _units_key(indicator, records, baseline)
    if key not in settings.shared:
        settings.shared[key] = _units(indicator, records, baseline)
    units, only_baseline = settings.shared[key]
    contributions = _contributions(indicator, units)
    cells = _measure(indicator.type, contributions)
    if indicator.type == "change":
        cells["unmatched_baseline"] = _Cell(only_baseline, only_baseline, only_baseline)
    families = _family_of(indicator.type)
    total_hidden = {m: _primary(cells[families[m][0]].persons, settings.min_cell) for m in cells}
    blocks = tuple(
        _block(indicator, dimension, units, contributions, questions, total_hidden, settings)
        for dimension in indicator.by
    )
    total = tuple(_rows(cells, total_hidden, "", ("", "")))
    return IndicatorReport(
        name=indicator.name,
        label=indicator.label(settings.lang),
        section=indicator.section,
        type=indicator.type,
        target=indicator.target,
        achievement=_achievement(total[0].value, indicator.target),
        waiting_for=None,
        total=total,
        blocks=blocks,
        restricted=indicator.restricted,
    )


def _units_key(
    indicator: Indicator, records: Sequence[Record], baseline: Sequence[Record]
) -> tuple[Any, ...]:
    """What decides an indicator's units; indicators with the same key share them."""
    where = indicator.where.text if indicator.where is not None else ""
    if indicator.type == "distinct":
        return ("distinct", id(records), where, indicator.field)
    if indicator.type == "change":
        return ("change", id(records), id(baseline), where, indicator.field, indicator.key)
    return ("all", id(records), where)


def _achievement(value: float | None, target: float | None) -> float | None:
    if value is None or not target:
        return None
    return value / target * 100


def _block(
    indicator: Indicator,
    dimension: Dimension,
    units: _Units,
    contributions: Sequence[Contribution],
    questions: Mapping[str, Question],
    total_hidden: Mapping[str, bool],
    settings: _Settings,
) -> Block:
    key = ("axis", id(units), dimension.item)  # the units are kept alive by settings.shared
    if key not in settings.shared:
        settings.shared[key] = _axis(dimension, questions, units.records, settings.lang)
    axis: _Axis = settings.shared[key]
    groups: dict[str, list[Contribution]] = {name: [] for name, _ in axis.categories}
    for contribution, names in zip(contributions, axis.members, strict=True):
        for name in names:
            groups[name].append(contribution)
    cells = [_measure(indicator.type, groups[name]) for name, _ in axis.categories]
    hidden: list[dict[str, bool]] = [{} for _ in cells]
    for family in _families(indicator.type):
        if not cells or family[0] not in cells[0]:
            continue
        persons = [c[family[0]].persons for c in cells]
        flags = _suppress(persons, total_hidden[family[0]], settings.min_cell)
        for flag, row_hidden in zip(flags, hidden, strict=True):
            row_hidden.update(dict.fromkeys(family, flag))
    rows = [
        row
        for category, cell, row_hidden in zip(axis.categories, cells, hidden, strict=True)
        for row in _rows(cell, row_hidden, dimension.item, category)
    ]
    label = _dimension_label(dimension, questions, settings.lang)
    return Block(dimension.item, label, tuple(rows))
