"""The hand-written XLSX parts: awkward text, numbers, dates and a comment, read by openpyxl."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import openpyxl

from collect.domain.exports import tables, xlsx_parts


def _book(rows: list[list[str]], kinds: list[str], note: str = "") -> openpyxl.Workbook:
    sheet = xlsx_parts.Sheet(kinds, neutralise=True, header_rows=1)
    entry = xlsx_parts.Entry("a & <b>", 1, 1 if note else 0)
    body = sheet.head([f"h{i}" for i in range(len(kinds))], None, first=True)
    body += "".join(sheet.row(n, row) for n, row in enumerate(rows, start=2))
    body += sheet.foot(bool(note))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", body)
        if note:
            archive.writestr("xl/worksheets/_rels/sheet1.xml.rels", xlsx_parts.sheet_rels(entry))
            archive.writestr("xl/comments1.xml", xlsx_parts.comments(note))
            archive.writestr("xl/drawings/vmlDrawing1.vml", xlsx_parts.vml(1))
        archive.writestr("_rels/.rels", xlsx_parts.ROOT_RELS)
        archive.writestr("xl/styles.xml", xlsx_parts.STYLES)
        archive.writestr("xl/workbook.xml", xlsx_parts.workbook([entry]))
        archive.writestr("xl/_rels/workbook.xml.rels", xlsx_parts.workbook_rels([entry]))
        archive.writestr("[Content_Types].xml", xlsx_parts.content_types([entry]))
    return openpyxl.load_workbook(io.BytesIO(out.getvalue()))


def test_text_numbers_and_dates_read_back() -> None:
    kinds = [tables.TEXT, tables.INTEGER]
    kinds += [tables.DECIMAL, tables.DATE, tables.DATETIME]
    rows = [
        [" <a & b> ", "12", "-3.5", "2024-02-29", "2024-01-10T09:00:00.125Z"],
        ["line\r\nnext\ttab", "1234567890123456", "x", "1899-12-31", "not a moment"],
        ["bell\x07 and _x0041_ kept", "", "1e-05", "29/02/2024", ""],
        ["=1+1", "-4", "", "", ""],
    ]
    book = _book(rows, kinds, note="Left out:\nname & <id>")
    sheet = book.active
    assert sheet is not None and sheet.title == "a & <b>"
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[2]] == [
        " <a & b> ",
        12,
        -3.5,
        datetime(2024, 2, 29),
        datetime(2024, 1, 10, 9, 0, 0, 125000),
    ]
    assert sheet["A3"].value == "line\r\nnext\ttab"
    assert sheet["B3"].value == "1234567890123456" and sheet["C3"].value == "x"
    assert sheet["E3"].value == "not a moment"
    # XML cannot hold a bell: it is written as Excel's _x0007_ (and a literal _x0041_ escaped).
    assert sheet["A4"].value == "bell_x0007_ and _x005F_x0041_ kept"
    assert sheet["C4"].value == 1e-05 and sheet["D4"].value == "29/02/2024"
    assert sheet["A5"].value == "=1+1" and sheet["A5"].data_type == "s"
    assert sheet["A5"].quotePrefix and sheet["B5"].value == -4
    assert sheet["A1"].font.b
    assert sheet["A1"].comment is not None
    assert sheet["A1"].comment.text == "Left out:\nname & <id>"
