"""Small XLSForms built in tests, for the cases the sample forms must not have (errors, XLS)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import openpyxl

Rows = Sequence[Sequence[object]]


def xlsx(
    survey: Rows,
    *,
    choices: Rows | None = None,
    settings: Rows | None = None,
    extra: dict[str, Rows] | None = None,
) -> bytes:
    """Build an .xlsx workbook: each sheet given as rows, the first row the header."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    for row in survey:
        sheet.append(list(row))
    for title, rows in (("choices", choices), ("settings", settings), *(extra or {}).items()):
        if rows is None:
            continue
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xls(survey: Rows, *, settings: Rows | None = None) -> bytes:
    """Build a legacy .xls workbook (Excel 97-2003), as some field offices still send."""
    import xlwt  # type: ignore[import-untyped]

    book = xlwt.Workbook()
    for title, rows in (("survey", survey), ("settings", settings)):
        if rows is None:
            continue
        ws = book.add_sheet(title)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                ws.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def simple(form_id: str = "simple", version: str = "1", *, extra_rows: Rows = ()) -> bytes:
    """A valid two-question form."""
    return xlsx(
        [
            ("type", "name", "label"),
            ("text", "participant_code", "Participant code"),
            ("integer", "age", "Age"),
            *extra_rows,
        ],
        settings=[("form_id", "version", "form_title"), (form_id, version, "Simple form")],
    )
