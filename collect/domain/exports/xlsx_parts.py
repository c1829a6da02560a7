"""The XML parts of an .xlsx workbook, written by hand so that sheets can stream row by row.

An .xlsx file is a ZIP of XML parts. The exports write each worksheet as rows arrive
(`Sheet.row`) and the parts that list the sheets (workbook, relationships, content types) at
the end, once every sheet is known; the order of ZIP entries does not matter to readers. Text
is written as inline strings (`t="inlineStr"`), which Excel never evaluates as formulas;
formula-like text also gets the quote-prefix style, so that editing the cell keeps it text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from collect.domain.exports import tables

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
HEADER = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Styles (cellXfs indexes): see STYLES.
BOLD, DAY, MOMENT, QUOTED = 1, 2, 3, 4
DAY_FORMAT = "yyyy-mm-dd"
MOMENT_FORMAT = "yyyy-mm-dd hh:mm:ss"

STYLES = (
    HEADER + f'<styleSheet xmlns="{MAIN}">'
    '<numFmts count="2">'
    f'<numFmt numFmtId="164" formatCode="{DAY_FORMAT}"/>'
    f'<numFmt numFmtId="165" formatCode="{MOMENT_FORMAT}"/>'
    "</numFmts>"
    '<fonts count="2">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)

ROOT_RELS = (
    HEADER + f'<Relationships xmlns="{PKG_REL}">'
    f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)

# Text: what XML must escape, what XML 1.0 cannot hold at all (written as Excel's _xHHHH_, which
# Excel decodes back), a CR (which XML readers would turn into LF), and a literal _xHHHH_ (whose
# underscore is escaped so that Excel does not decode it).
_SPECIAL = re.compile(
    "[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_"
)
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(value: str) -> str:
    """Text fit for an XML element (or a double-quoted attribute)."""
    if not _SPECIAL.search(value):
        return value
    value = re.sub(r"_(x[0-9A-Fa-f]{4}_)", r"_x005F_\1", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = value.replace('"', "&quot;").replace("\r", "&#13;")
    return _FORBIDDEN.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_EPOCH = datetime(1899, 12, 31)


def serial(moment: datetime) -> float:
    """Excel's serial number of a date-time (1900 system, with its phantom 29 February)."""
    delta = moment - _EPOCH
    value = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    return value + 1 if value > 59 else value


def _text_cell(ref: str, value: str, style: str = "") -> str:
    space = ' xml:space="preserve"' if value[0].isspace() or value[-1].isspace() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'


Cell = Callable[[str, str], str]


def cell_writer(kind: str, neutralise: bool) -> Cell:
    """How a value of a column of this type becomes a <c> element."""
    quoted = f' s="{QUOTED}"'

    def text(ref: str, value: str) -> str:
        if neutralise and tables.is_formula_like(value):
            return _text_cell(ref, value, quoted)
        return _text_cell(ref, value)

    integral = kind in (tables.INTEGER, tables.COUNT)

    def number(ref: str, value: str) -> str:
        parsed: float
        try:
            parsed = int(value) if integral else float(value)
        except ValueError:
            try:
                parsed = float(value)
            except ValueError:
                return text(ref, value)
        # Excel keeps 15 digits: longer numbers (IDs typed as integers) stay exact as text.
        if not math.isfinite(parsed) or abs(parsed) >= 1e15:
            return text(ref, value)
        return f'<c r="{ref}"><v>{parsed!r}</v></c>'

    def day(ref: str, value: str) -> str:
        try:
            parsed = date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            parsed = None
        if parsed is None:
            return text(ref, value)
        return f'<c r="{ref}" s="{DAY}"><v>{serial(datetime.combine(parsed, time()))!r}</v></c>'

    def moment(ref: str, value: str) -> str:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return text(ref, value)
        # Excel has no time zones: keep the clock time as it was recorded.
        return f'<c r="{ref}" s="{MOMENT}"><v>{serial(parsed.replace(tzinfo=None))!r}</v></c>'

    if kind in (tables.INTEGER, tables.DECIMAL, tables.COUNT):
        return number
    if kind == tables.DATE:
        return day
    if kind == tables.DATETIME:
        return moment
    return text


class Sheet:
    """The XML of one worksheet: head (header rows, frozen under them), rows, foot."""

    def __init__(self, kinds: Sequence[str], neutralise: bool, header_rows: int) -> None:
        self.refs = [column_letter(i) for i in range(len(kinds))]
        self.cells = [cell_writer(kind, neutralise) for kind in kinds]
        self.header_rows = header_rows

    def head(self, header: Sequence[str], labels: Sequence[str] | None, first: bool) -> str:
        top = f"A{self.header_rows + 1}"
        selected = ' tabSelected="1"' if first else ""
        parts = [
            HEADER,
            f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}"><sheetViews>',
            f'<sheetView{selected} workbookViewId="0">',
            f'<pane ySplit="{self.header_rows}" topLeftCell="{top}" activePane="bottomLeft"'
            ' state="frozen"/>',
            f'<selection pane="bottomLeft" activeCell="{top}" sqref="{top}"/>',
            '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><sheetData>',
            '<row r="1">',
            *(
                _text_cell(f"{ref}1", value, f' s="{BOLD}"')
                for ref, value in zip(self.refs, header, strict=True)
                if value
            ),
            "</row>",
        ]
        if labels is not None:
            parts.append('<row r="2">')
            parts.extend(
                _text_cell(f"{ref}2", value)
                for ref, value in zip(self.refs, labels, strict=True)
                if value
            )
            parts.append("</row>")
        return "".join(parts)

    def row(self, number: int, values: Sequence[str]) -> str:
        """Row `number` (1-based) of the sheet; empty values leave no cell."""
        n = str(number)
        parts = [f'<row r="{n}">']
        for ref, value, cell in zip(self.refs, values, self.cells, strict=True):
            if value and isinstance(value, str):
                parts.append(cell(ref + n, value))
        parts.append("</row>")
        return "".join(parts)

    @staticmethod
    def foot(commented: bool) -> str:
        drawing = '<legacyDrawing r:id="rId2"/>' if commented else ""
        return f"</sheetData>{drawing}</worksheet>"


@dataclass
class Entry:
    """A sheet of the workbook: its name, part number, and whether A1 has a comment."""

    name: str
    number: int  # xl/worksheets/sheet{number}.xml
    comment: int = 0  # xl/comments{comment}.xml, or 0 for none


def sheet_rels(entry: Entry) -> str:
    return (
        HEADER + f'<Relationships xmlns="{PKG_REL}">'
        f'<Relationship Id="rId1" Type="{REL}/comments" Target="../comments{entry.comment}.xml"/>'
        f'<Relationship Id="rId2" Type="{REL}/vmlDrawing"'
        f' Target="../drawings/vmlDrawing{entry.comment}.vml"/>'
        "</Relationships>"
    )


def comments(note: str) -> str:
    return (
        HEADER + f'<comments xmlns="{MAIN}"><authors><author>collect</author></authors>'
        '<commentList><comment ref="A1" authorId="0"><text>'
        f'<t xml:space="preserve">{escape(note)}</t></text></comment>'
        "</commentList></comments>"
    )


def vml(number: int) -> str:
    """The legacy drawing Excel needs to show a comment: one hidden note box on A1."""
    return (
        '<xml xmlns:v="urn:schemas-microsoft-com:vml"'
        ' xmlns:o="urn:schemas-microsoft-com:office:office"'
        ' xmlns:x="urn:schemas-microsoft-com:office:excel">'
        f'<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{number}"/></o:shapelayout>'
        '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202"'
        ' path="m,l,21600r21600,l21600,xe">'
        '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/>'
        "</v:shapetype>"
        f'<v:shape id="_x0000_s{number * 1024 + 1}" type="#_x0000_t202"'
        ' style="position:absolute;margin-left:59.25pt;margin-top:1.5pt;width:288pt;'
        'height:180pt;z-index:1;visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto">'
        '<v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
        '<v:path o:connecttype="none"/>'
        '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div>'
        "</v:textbox>"
        '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
        "<x:Anchor>1, 15, 0, 2, 7, 15, 12, 4</x:Anchor><x:AutoFill>False</x:AutoFill>"
        "<x:Row>0</x:Row><x:Column>0</x:Column></x:ClientData>"
        "</v:shape></xml>"
    )


def workbook(entries: Sequence[Entry]) -> str:
    sheets = "".join(
        f'<sheet name="{escape(e.name)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, e in enumerate(entries, start=1)
    )
    return (
        HEADER + f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{sheets}</sheets></workbook>"
    )


def workbook_rels(entries: Sequence[Entry]) -> str:
    n = len(entries)
    sheets = "".join(
        f'<Relationship Id="rId{i}" Type="{REL}/worksheet"'
        f' Target="worksheets/sheet{e.number}.xml"/>'
        for i, e in enumerate(entries, start=1)
    )
    return (
        HEADER + f'<Relationships xmlns="{PKG_REL}">{sheets}'
        f'<Relationship Id="rId{n + 1}" Type="{REL}/styles" Target="styles.xml"/>'
        "</Relationships>"
    )


def content_types(entries: Sequence[Entry]) -> str:
    sml = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    parts = [
        HEADER,
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">',
        '<Default Extension="rels"'
        ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>',
        '<Default Extension="xml" ContentType="application/xml"/>',
        '<Default Extension="vml"'
        ' ContentType="application/vnd.openxmlformats-officedocument.vmlDrawing"/>',
        f'<Override PartName="/xl/workbook.xml" ContentType="{sml}.sheet.main+xml"/>',
        f'<Override PartName="/xl/styles.xml" ContentType="{sml}.styles+xml"/>',
    ]
    for e in entries:
        parts.append(
            f'<Override PartName="/xl/worksheets/sheet{e.number}.xml"'
            f' ContentType="{sml}.worksheet+xml"/>'
        )
        if e.comment:
            parts.append(
                f'<Override PartName="/xl/comments{e.comment}.xml"'
                f' ContentType="{sml}.comments+xml"/>'
            )
    parts.append("</Types>")
    return "".join(parts)
