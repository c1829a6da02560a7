"""The evaluation report page: the report's tables, with bar charts drawn here as SVG.

The numbers come from domain/evaluation.report; this module only lays them out: one table per
indicator and disaggregation, and a horizontal bar per category of the headline measure.
Suppressed cells get no bar, so a chart never reveals what the table hides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from collect.domain import evaluation, forms
from collect.domain.evaluation import MEASURE_LABELS, IndicatorReport, Report, Row, format_number
from collect.domain.people import access, projects
from collect.errors import BadRequest
from collect.storage.models import Actor, Project

CHART_WIDTH = 320
LABEL_SPACE = 60  # room right of the longest bar for its value
ROW_HEIGHT = 40


@dataclass(frozen=True)
class Bar:
    label: str
    text: str
    y: int
    width: float
    suppressed: bool


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    height: int
    width: int = CHART_WIDTH


@dataclass(frozen=True)
class TableView:
    title: str
    measures: list[str]
    rows: list[tuple[str, list[str]]]  # category label, one text per measure (value, n)
    chart: Chart | None


@dataclass(frozen=True)
class IndicatorView:
    result: IndicatorReport
    headline: str
    n: str
    target: str
    achievement: str
    tables: list[TableView]


@dataclass(frozen=True)
class SectionView:
    name: str
    label: str
    indicators: list[IndicatorView]


@dataclass(frozen=True)
class EvaluationPage:
    project: Project
    verbs: frozenset[str]
    sections: list[SectionView]
    languages: list[str]
    since: date | None
    until: date | None
    lang: str | None
    min_cell: int
    withheld: int  # indicators for project managers only, left out for this reader

    def can(self, verb: str) -> bool:
        return verb in self.verbs


def day(text: str | None, name: str) -> date | None:
    """A date field of the page's GET form; empty means no bound."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"The {name} date must be a date such as 2026-03-31.") from None


def page(
    actor: Actor, project_id: int, since: date | None, until: date | None, lang: str | None
) -> EvaluationPage:
    """The project's report for the period and language asked, ready to render."""
    report: Report = evaluation.report(actor, project_id, from_=since, to=until, lang=lang)
    project = projects.get(actor, project_id)
    languages: list[str] = []
    for form in forms.listed(actor, project_id):
        for language in form.current_def.languages if form.current_def else []:
            if language not in languages:
                languages.append(language)
    sections = [
        SectionView(s.name, s.label, [_indicator(i, report.min_cell) for i in s.indicators])
        for s in report.sections
    ]
    return EvaluationPage(
        project=project,
        verbs=access.project_verbs(actor, project_id),
        sections=sections,
        languages=languages,
        since=since,
        until=until,
        lang=lang,
        min_cell=report.min_cell,
        withheld=report.withheld,
    )


def _cell(row: Row) -> str:
    if row.suppressed:
        return "suppressed"
    value = format_number(row.value)
    if not value:
        return "—"
    return value + ("%" if row.measure in ("percent", "percent_improved") else "")


def _indicator(result: IndicatorReport, min_cell: int) -> IndicatorView:
    headline = result.headline
    tables = [_table("All", list(result.total), headline.measure, chart=False)]
    for block in result.blocks:
        tables.append(_table(block.label, list(block.rows), headline.measure, chart=True))
    achievement = ""
    if result.achievement is not None and not headline.suppressed:
        achievement = format_number(result.achievement) + "% of the target"
    return IndicatorView(
        result=result,
        headline=_cell(headline),
        n="" if headline.suppressed or headline.n is None else str(headline.n),
        target="" if result.target is None else format_number(result.target),
        achievement=achievement,
        tables=tables,
    )


def _table(title: str, rows: list[Row], headline: str, *, chart: bool) -> TableView:
    measures: list[str] = []
    categories: dict[str, dict[str, Row]] = {}
    labels: dict[str, str] = {}
    for row in rows:
        if row.measure not in measures:
            measures.append(row.measure)
        categories.setdefault(row.category, {})[row.measure] = row
        labels[row.category] = row.category_label or row.category or "All"
    lines = []
    for category, by_measure in categories.items():
        texts = []
        for measure in measures:
            found = by_measure.get(measure)
            texts.append(_cell(found) if found else "")
        first = by_measure.get(measures[0]) if measures else None
        n = "" if first is None or first.suppressed or first.n is None else str(first.n)
        texts.append(n)
        lines.append((labels[category], texts))
    bars = [r for r in rows if r.measure == headline]
    return TableView(
        title=title,
        measures=[MEASURE_LABELS.get(m, m) for m in measures],
        rows=lines,
        chart=_chart(title, bars, headline) if chart and bars else None,
    )


def _chart(title: str, rows: list[Row], measure: str) -> Chart:
    values = [r.value for r in rows if not r.suppressed and r.value is not None]
    percent = measure in ("percent", "percent_improved")
    top = max([abs(v) for v in values] + ([100.0] if percent else [0.0]))
    span = CHART_WIDTH - LABEL_SPACE
    bars = [
        Bar(
            label=_short(r.category_label or r.category),
            text=_cell(r),
            y=i * ROW_HEIGHT,
            width=0.0
            if r.suppressed or r.value is None or top == 0
            else max(1.0, abs(r.value) / top * span),
            suppressed=r.suppressed,
        )
        for i, r in enumerate(rows)
    ]
    return Chart(title=title, bars=bars, height=max(1, len(rows)) * ROW_HEIGHT)


def _short(text: str, limit: int = 44) -> str:
    """Chart labels fit the chart's width; the table beside it has the full text."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
