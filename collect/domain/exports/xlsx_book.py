"""The XLSX export: a workbook streamed as a ZIP of XML parts (see `xlsx_parts`)."""

from __future__ import annotations

import contextlib
import re
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO

from collect.domain.exports import xlsx_parts
from collect.domain.exports.plan import Plan, Sink, Tuning, rows
from collect.domain.exports.tables import Row

# XLSX ------------------------------------------------------------------------------------------

XLSX_MAX_ROWS = 1_048_576


def xlsx_chunks(plan: Plan, tuning: Tuning) -> Iterator[bytes]:
    """The workbook as a ZIP streamed like the CSV zip: the root sheet as rows arrive, the
    repeat sheets from temporary files after it, the parts that list the sheets last."""
    sink = Sink()
    with contextlib.ExitStack() as stack:
        archive = zipfile.ZipFile(
            sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=tuning.compresslevel
        )
        archive.writestr("_rels/.rels", xlsx_parts.ROOT_RELS)
        archive.writestr("xl/styles.xml", xlsx_parts.STYLES)
        book = _Book(plan, archive, stack, tuning.chunk)
        yield sink.take()
        for index, row in rows(plan, tuning.batch):
            if book.write(index, row) and sink.size >= tuning.chunk:
                yield sink.take()
        book.finish_root()
        yield sink.take()
        for spool, entry in book.spooled:
            spool.seek(0)
            with archive.open(
                f"xl/worksheets/sheet{entry.number}.xml", "w", force_zip64=True
            ) as target:
                while block := spool.read(tuning.chunk):
                    target.write(block)
                    if sink.size >= tuning.chunk:
                        yield sink.take()
            spool.close()
        entries = [e for parts in book.entries for e in parts]
        for entry in entries:
            if entry.comment:
                n = entry.comment
                archive.writestr(
                    f"xl/worksheets/_rels/sheet{entry.number}.xml.rels",
                    xlsx_parts.sheet_rels(entry),
                )
                archive.writestr(f"xl/comments{n}.xml", xlsx_parts.comments(book.notes[n]))
                archive.writestr(f"xl/drawings/vmlDrawing{n}.vml", xlsx_parts.vml(n))
        archive.writestr("xl/workbook.xml", xlsx_parts.workbook(entries))
        archive.writestr("xl/_rels/workbook.xml.rels", xlsx_parts.workbook_rels(entries))
        archive.writestr("[Content_Types].xml", xlsx_parts.content_types(entries))
        archive.close()
        yield sink.take()


class _Book:
    """One worksheet per table, written row by row: the root's straight into its ZIP entry,
    the repeats' into temporary files; a table past Excel's last row continues on a sheet of
    its own."""

    def __init__(
        self, plan: Plan, archive: zipfile.ZipFile, stack: contextlib.ExitStack, chunk: int
    ) -> None:
        self.plan = plan
        self.archive = archive
        self.stack = stack
        self.chunk = chunk
        self.header_rows = 2 if plan.options.labels else 1
        neutral = not plan.options.formulas_raw
        tables_ = plan.layout.tables
        self.sheets = [
            xlsx_parts.Sheet([c.type for c in t.columns], neutral, self.header_rows)
            for t in tables_
        ]
        self.used: set[str] = set()
        self.entries: list[list[xlsx_parts.Entry]] = [[] for _ in tables_]
        self.notes: dict[int, str] = {}
        self.spooled: list[tuple[IO[bytes], xlsx_parts.Entry]] = []
        self.numbers = 0
        self.buffers: list[list[str]] = [[] for _ in tables_]
        self.sizes = [0] * len(tables_)
        self.next_row = [0] * len(tables_)
        self.targets: list[IO[bytes]] = [None] * len(tables_)  # type: ignore[list-item]
        for index in range(len(tables_)):
            self._open(index)

    def _name(self, index: int, part: int) -> str:
        layout = self.plan.layout
        table = layout.tables[index]
        base = table.name if index == 0 else table.name[len(layout.tables[0].name) + 1 :]
        base = re.sub(r"[\[\]:*?/\\]", "_", base).strip("'") or "Sheet"
        suffix = f" ({part})" if part > 1 else ""
        name = base[: 31 - len(suffix)] + suffix
        n = 2
        while name.casefold() in self.used:
            tag = f"~{n}"
            name = base[: 31 - len(tag) - len(suffix)] + tag + suffix
            n += 1
        self.used.add(name.casefold())
        return name

    def _open(self, index: int) -> None:
        table = self.plan.layout.tables[index]
        part = len(self.entries[index]) + 1
        self.numbers += 1
        entry = xlsx_parts.Entry(self._name(index, part), self.numbers)
        note = self._withheld_note(index) if part == 1 else ""
        if note:
            entry.comment = len(self.notes) + 1
            self.notes[entry.comment] = note
        self.entries[index].append(entry)
        target: IO[bytes]
        if index == 0:
            target = self.archive.open(
                f"xl/worksheets/sheet{entry.number}.xml", "w", force_zip64=True
            )
        else:
            target = self.stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
            self.spooled.append((target, entry))
        self.targets[index] = target
        labels = table.labels if self.header_rows == 2 else None
        first = index == 0 and part == 1
        self._add(index, self.sheets[index].head(table.header, labels, first))
        self.next_row[index] = self.header_rows

    def _withheld_note(self, index: int) -> str:
        layout = self.plan.layout
        table = layout.tables[index]
        lines = list(table.withheld)
        if index == 0:
            lines.extend(f"{name} (the whole table)" for name in layout.withheld_tables)
        if not lines:
            return ""
        return (
            "Left out as sensitive (personal data); a project manager can include them with "
            "sensitive=include:\n" + "\n".join(lines)
        )

    def _add(self, index: int, text: str) -> bool:
        """Buffer text for a table; hand the buffer on once it is a chunk (then say so)."""
        self.buffers[index].append(text)
        self.sizes[index] += len(text)
        if self.sizes[index] < self.chunk:
            return False
        self._flush(index)
        return True

    def _flush(self, index: int) -> None:
        self.targets[index].write("".join(self.buffers[index]).encode("utf-8"))
        self.buffers[index].clear()
        self.sizes[index] = 0

    def _close(self, index: int) -> None:
        entry = self.entries[index][-1]
        self.buffers[index].append(xlsx_parts.Sheet.foot(bool(entry.comment)))
        self._flush(index)
        if index == 0:
            self.targets[0].close()

    def write(self, index: int, row: Row) -> bool:
        """Add a row; say whether root bytes went into the archive."""
        at = self.next_row[index]
        if at >= XLSX_MAX_ROWS:
            self._close(index)
            self._open(index)
            at = self.next_row[index]
        self.next_row[index] = at + 1
        return self._add(index, self.sheets[index].row(at + 1, row)) and index == 0

    def finish_root(self) -> None:
        """End the root sheet's entry and the repeat sheets' temporary files."""
        for index in range(len(self.sheets)):
            self._close(index)
