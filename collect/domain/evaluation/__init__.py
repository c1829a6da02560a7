"""Evaluation: the participation and impact sections of an evaluation, from `indicators` sheets.

Pure modules: `expressions` (the sheet's conditions), `indicators` (the sheet read and checked
against the form's questions), `compute` (indicators on plain records, small cells
suppressed) and `render` (JSON, tidy CSV, workbook). With the database: `checks` (a new form
version's sheet checked against the project's other forms, at upload) and `service` (the
report on request). The rules are documented in docs/indicators.md.
"""

from collect.domain.evaluation.checks import read_indicators
from collect.domain.evaluation.compute import MEASURE_LABELS, IndicatorReport, Report, Row
from collect.domain.evaluation.indicators import questions
from collect.domain.evaluation.render import format_number, tidy_rows, to_json, write_xlsx
from collect.domain.evaluation.service import report

__all__ = [
    "MEASURE_LABELS",
    "IndicatorReport",
    "Report",
    "Row",
    "format_number",
    "questions",
    "read_indicators",
    "report",
    "tidy_rows",
    "to_json",
    "write_xlsx",
]
