"""The export tests' XLSForms, kept as markdown tables and built into .xlsx when needed."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl

FORMS = Path(__file__).resolve().parent


def sheets(markdown: str) -> dict[str, list[list[str]]]:
    """Read `## sheet` headings, each followed by a pipe table, into rows of cells."""
    found: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = found.setdefault(line[3:].strip(), [])
        elif current is not None and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} and c for c in cells):
                current.append(cells)
    return found


def xlsx(name: str) -> bytes:
    """Build the workbook of forms/<name>.md."""
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for title, rows in sheets((FORMS / f"{name}.md").read_text(encoding="utf-8")).items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append([cell or None for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
