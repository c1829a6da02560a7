"""CSV files as Central writes them (csv-stringify's quoting), formulas neutralised."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence

from collect.domain.exports import tables
from collect.domain.exports.plan import Plan, Tuning, rows

# CSV -------------------------------------------------------------------------------------------

# In a row joined with a \x1f before every cell: a cell that may start a formula (quick to find),
# and one that does and is no number.
_MAYBE_FORMULA = re.compile(r"\x1f[-=+@\t\r]")
_FORMULA_CELL = re.compile(
    r"\x1f(?=[-=+@\t\r])(?![-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:\x1f|\Z))"
)


class CsvText:
    """CSV lines into a text buffer, quoted as csv-stringify quotes them (Central's writer)."""

    def __init__(self, neutralise: bool) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        # A lone CR inside a value must be quoted too, which Python's writer does only when CR
        # is part of the line terminator; such rows go through a second writer.
        self.cr_buffer = io.StringIO()
        self.cr_writer = csv.writer(self.cr_buffer, lineterminator="\r\n")
        self.neutralise = neutralise

    def write(self, row: Sequence[str]) -> None:
        try:
            joined = "\x1f" + "\x1f".join(row)
        except TypeError:  # a value that is not text: see tables._compile
            row = [v if isinstance(v, str) else "" for v in row]
            joined = "\x1f" + "\x1f".join(row)
        if self.neutralise and _MAYBE_FORMULA.search(joined):
            # Rewriting the joined row runs in C; XML text never holds \x1f, so cells split
            # back as they were unless metadata did, which the slow way handles.
            cells = _FORMULA_CELL.sub("\x1f'", joined).split("\x1f")[1:]
            row = cells if len(cells) == len(row) else [tables.neutralise(v) for v in row]
        if "\r" in joined:
            self.cr_writer.writerow(row)
            self.buffer.write(self.cr_buffer.getvalue()[:-2] + "\n")
            self.cr_buffer.seek(0)
            self.cr_buffer.truncate()
        else:
            self.writer.writerow(row)

    def size(self) -> int:
        return self.buffer.tell()

    def take(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8")


def csv_chunks(plan: Plan, tuning: Tuning) -> Iterator[bytes]:
    root = plan.layout.tables[0]
    out = CsvText(not plan.options.formulas_raw)
    out.write(root.header)
    if plan.options.labels:
        out.write(root.labels)
    yield out.take()
    for _, row in rows(plan, tuning.batch):
        out.write(row)
        if out.size() >= tuning.chunk:
            yield out.take()
    yield out.take()
