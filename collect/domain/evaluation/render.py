"""The report rendered: the API's JSON, the tidy CSV and the workbook (pure)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from collect.domain.evaluation.compute import (
    MEASURE_LABELS,
    Block,
    IndicatorReport,
    Report,
    Row,
    Section,
)

CSV_COLUMNS = (
    "section",
    "indicator",
    "label",
    "type",
    "measure",
    "dimension",
    "category",
    "category_label",
    "value",
    "n",
    "target",
    "suppressed",
)
# Rendering -----------------------------------------------------------------------------------


def format_number(value: float | None) -> str:
    """Print a number as the CSV does: 6 not 6.0, else rounded to 3 decimals; None as ""."""
    if value is None or not math.isfinite(value):
        return ""
    rounded = round(float(value), 3)
    if rounded.is_integer():
        return str(int(rounded))
    return f"{rounded:.3f}".rstrip("0")


def _json_number(value: float | None) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    rounded = round(float(value), 3)
    return int(rounded) if rounded.is_integer() else rounded


def _json_row(row: Row) -> dict[str, Any]:
    return {
        "measure": row.measure,
        "category": row.category or None,
        "categoryLabel": row.category_label or None,
        "value": _json_number(row.value),
        "n": row.n,
        "suppressed": row.suppressed,
    }


def _json_indicator(result: IndicatorReport) -> dict[str, Any]:
    headline = result.headline
    return {
        "name": result.name,
        "label": result.label,
        "type": result.type,
        "target": _json_number(result.target),
        "achievement": _json_number(result.achievement),
        "waitingFor": result.waiting_for,
        "restricted": result.restricted,
        "total": {
            "measure": headline.measure,
            "value": _json_number(headline.value),
            "n": headline.n,
            "suppressed": headline.suppressed,
        },
        "measures": [_json_row(r) for r in result.total],
        "blocks": [
            {"dimension": b.dimension, "label": b.label, "rows": [_json_row(r) for r in b.rows]}
            for b in result.blocks
        ],
    }


def to_json(report: Report) -> dict[str, Any]:
    """The report as the API returns it: sections, then indicators with totals and blocks."""
    return {
        "minCell": report.min_cell,
        "withheld": report.withheld,
        "sections": [
            {
                "name": s.name,
                "label": s.label,
                "indicators": [_json_indicator(i) for i in s.indicators],
            }
            for s in report.sections
        ],
    }


def tidy_rows(report: Report) -> Iterator[list[str]]:
    """Yield the tidy CSV: the header, then one row per indicator, block, category and measure."""
    yield list(CSV_COLUMNS)
    for section in report.sections:
        for result in section.indicators:
            start = [section.name, result.name, result.label, result.type]
            rows = itertools.chain(result.total, *(b.rows for b in result.blocks))
            for row in rows:
                yield [
                    *start,
                    row.measure,
                    row.dimension,
                    row.category,
                    row.category_label,
                    format_number(row.value),
                    "" if row.n is None else str(row.n),
                    format_number(result.target),
                    "true" if row.suppressed else "false",
                ]


# Workbook ------------------------------------------------------------------------------------

SUPPRESSED = "suppressed"


@dataclass
class _Sheet:
    """Writes rows top to bottom, as xlsxwriter's constant_memory mode requires."""

    worksheet: Any
    bold: Any
    title: Any
    row: int = 0

    def write(self, cells: Sequence[object], style: Any = None) -> None:
        for col, value in enumerate(cells):
            if value is None or value == "":
                continue
            if isinstance(value, float | int) and not isinstance(value, bool):
                self.worksheet.write_number(self.row, col, value, style)
            else:
                self.worksheet.write_string(self.row, col, str(value), style)
        self.row += 1

    def skip(self) -> None:
        self.row += 1


def _cell(value: float | None, suppressed: bool) -> object:
    if suppressed:
        return SUPPRESSED
    number = _json_number(value)
    return "" if number is None else number


def _n(row: Row) -> object:
    return SUPPRESSED if row.suppressed else row.n


def write_xlsx(report: Report, out: BinaryIO) -> None:
    """Write the report as a workbook: sheets Participation and Impact, one table per indicator."""
    import xlsxwriter

    book = xlsxwriter.Workbook(out, {"constant_memory": True})
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    try:
        for section in report.sections:
            worksheet = book.add_worksheet(section.label)
            worksheet.set_column(0, 0, 40)
            worksheet.set_column(1, 8, 14)
            _write_section(_Sheet(worksheet, bold, title), section)
    finally:
        book.close()  # also removes constant_memory's temporary files


def _write_section(sheet: _Sheet, section: Section) -> None:
    sheet.write([section.label], sheet.title)
    sheet.skip()
    sheet.write(["Indicator", "Value", "n", "Target", "Achievement against target (%)"], sheet.bold)
    for result in section.indicators:
        headline = result.headline
        value: object = _cell(headline.value, headline.suppressed)
        if result.waiting_for:
            value = f"waiting for {result.waiting_for}"
        target, achievement = _cell(result.target, False), _cell(result.achievement, False)
        sheet.write([result.label, value, _n(headline), target, achievement])
    for result in section.indicators:
        if result.blocks or (result.type == "change" and not result.waiting_for):
            sheet.skip()
            _write_indicator(sheet, result)


def _write_indicator(sheet: _Sheet, result: IndicatorReport) -> None:
    sheet.write([result.label], sheet.bold)
    if result.type == "change":
        sheet.write(["Measure", "Value", "n"], sheet.bold)
        for row in result.total:
            sheet.write([MEASURE_LABELS[row.measure], _cell(row.value, row.suppressed), _n(row)])
    for block in result.blocks:
        sheet.skip()
        _write_block(sheet, block)


def _write_block(sheet: _Sheet, block: Block) -> None:
    measures = list(dict.fromkeys(r.measure for r in block.rows))
    sheet.write([block.label, *(MEASURE_LABELS[m] for m in measures), "n"], sheet.bold)
    by_category: dict[str, list[Row]] = {}
    for row in block.rows:
        by_category.setdefault(row.category, []).append(row)
    for rows in by_category.values():
        values = [_cell(r.value, r.suppressed) for r in rows]
        sheet.write([rows[0].category_label, *values, _n(rows[0])])
