"""The evaluation report of a project as JSON, tidy CSV and a workbook (see evaluation.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, request, stream_with_context

from collect.domain import evaluation
from collect.errors import BadRequest
from collect.web.auth import current_actor

bp = Blueprint("evaluation", __name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/projects/<int:pid>/evaluation")
def report_json(pid: int) -> dict[str, Any]:
    """The report: participation and impact sections, each indicator with totals and blocks."""
    return evaluation.to_json(_report(pid))


@bp.get("/projects/<int:pid>/evaluation.csv")
def report_csv(pid: int) -> Response:
    """The report as tidy CSV: one row per indicator, block, category and measure."""
    rows = evaluation.tidy_rows(_report(pid))
    return Response(
        stream_with_context(_csv_lines(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="evaluation-{pid}.csv"'},
    )


@bp.get("/projects/<int:pid>/evaluation.xlsx")
def report_xlsx(pid: int) -> Response:
    """The report as a workbook: sheets Participation and Impact, laid out as report evaluation."""
    out = io.BytesIO()
    evaluation.write_xlsx(_report(pid), out)
    return Response(
        out.getvalue(),
        mimetype=XLSX,
        headers={"Content-Disposition": f'attachment; filename="evaluation-{pid}.xlsx"'},
    )


def _report(pid: int) -> evaluation.Report:
    """Read the query (from, to, lang) and compute the report for the signed-in actor."""
    return evaluation.report(
        current_actor(),
        pid,
        from_=_day("from"),
        to=_day("to"),
        lang=request.args.get("lang") or None,
    )


def _day(name: str) -> date | datetime | None:
    """A query parameter as an ISO date (2026-03-31) or date and time (2026-03-31T12:00Z)."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"'{name}' must be an ISO date such as 2026-03-31 (or a date and time such as"
            f" 2026-03-31T12:00:00Z); '{text}' is not one."
        ) from None


def _csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
