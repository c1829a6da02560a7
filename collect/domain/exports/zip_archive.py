"""The CSV zip: root table streamed, repeat tables spooled then appended, media, note."""

from __future__ import annotations

import contextlib
import tempfile
import zipfile
from collections.abc import Iterator

import orjson
from sqlalchemy import (
    Text,
    cast,
    null,
    select,
)

from collect.domain.exports import csv_table, tables
from collect.domain.exports.plan import Plan, Sink, Tuning, rows
from collect.domain.exports.tables import Layout
from collect.errors import BlobMissing
from collect.storage import blobs
from collect.storage.db import db
from collect.storage.models import (
    Blob,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
)

# ZIP -------------------------------------------------------------------------------------------

NOTE_NAME = "withheld-columns.txt"
MISSING_NAME = "media/missing-files.txt"


def zip_chunks(plan: Plan, tuning: Tuning) -> Iterator[bytes]:
    layout = plan.layout
    neutral = not plan.options.formulas_raw
    sink = Sink()
    with contextlib.ExitStack() as stack:
        archive = zipfile.ZipFile(
            sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=tuning.compresslevel
        )
        texts = [csv_table.CsvText(neutral) for _ in layout.tables]
        # Repeat rows wait on disk while the root table streams: a ZIP entry is written whole.
        spools = [stack.enter_context(tempfile.TemporaryFile()) for _ in layout.tables[1:]]
        for table, text in zip(layout.tables, texts, strict=True):
            text.write(table.header)
            if plan.options.labels:
                text.write(table.labels)
        root_text = texts[0]
        with archive.open(f"{layout.tables[0].name}.csv", "w") as root_entry:
            root_entry.write(root_text.take())
            yield sink.take()
            for index, row in rows(plan, tuning.batch):
                text = texts[index]
                text.write(row)
                if text.size() >= tuning.chunk:
                    if index == 0:
                        root_entry.write(text.take())
                        if sink.size >= tuning.chunk:
                            yield sink.take()
                    else:
                        spools[index - 1].write(text.take())
            root_entry.write(root_text.take())
        for index, table in enumerate(layout.tables[1:], start=1):
            spool = spools[index - 1]
            spool.write(texts[index].take())
            spool.seek(0)
            with archive.open(f"{table.name}.csv", "w") as entry:
                while block := spool.read(tuning.chunk):
                    entry.write(block)
                    if sink.size >= tuning.chunk:
                        yield sink.take()
            spool.close()
        if plan.options.attachments:
            yield from _media(plan, archive, sink, tuning)
        if layout.withheld:
            archive.writestr(NOTE_NAME, _note(layout).encode("utf-8"))
        archive.close()
        yield sink.take()


def _note(layout: Layout) -> str:
    lines = [
        "Columns left out of this export",
        "",
        "The form marks these questions as sensitive (personal data), so they were not",
        "exported, nor were files that only they refer to. A project manager can include them",
        "by asking for the export with sensitive=include.",
        "",
        *layout.withheld,
        "",
    ]
    return "\n".join(lines)


def _media(plan: Plan, archive: zipfile.ZipFile, sink: Sink, tuning: Tuning) -> Iterator[bytes]:
    """The files of the exported versions under media/, but none only hidden answers name."""
    withheld = plan.shown.withholds_files
    data = cast(SubmissionDef.data, Text) if withheld else null()
    stmt = (
        select(SubmissionAttachment.name, SubmissionDef.id, Blob, data)
        .join(SubmissionDef, SubmissionDef.id == SubmissionAttachment.submission_def_id)
        .join(Submission, Submission.id == SubmissionDef.submission_id)
        .join(Blob, Blob.id == SubmissionAttachment.blob_id)
        .where(
            SubmissionDef.current.is_(True),
            Submission.form_id == plan.form_id,
            Submission.deleted_at.is_(None),
            *plan.where,
        )
        .order_by(Submission.id.desc(), SubmissionAttachment.id)
        .execution_options(yield_per=tuning.batch)
    )
    seen: dict[str, str] = {}
    lost: list[str] = []
    hidden: tuple[int, frozenset[str]] = (0, frozenset())
    result = db.session.execute(stmt)
    try:
        for name, def_id, blob, values in result:
            sha256 = blob.sha256
            if withheld:
                if hidden[0] != def_id:
                    files = plan.shown.hidden_files(orjson.loads(values) if values else {})
                    hidden = (def_id, files)
                if name in hidden[1]:
                    continue
            target = name
            if target in seen:
                if seen[target] == sha256:
                    continue
                stem, dot, suffix = name.rpartition(".")
                n = 2
                while (target := f"{stem}~{n}{dot}{suffix}" if dot else f"{name}~{n}") in seen:
                    n += 1
            seen[target] = sha256
            # Opened before its entry: a file the store has lost is left out and listed, and
            # the rest of the archive still arrives whole.
            try:
                opened = blobs.open(blob)
            except BlobMissing:
                lost.append(target)
                continue
            with opened, archive.open(f"media/{tables.safe_filename(target)}", "w") as entry:
                for block in opened:
                    entry.write(block)
                    if sink.size >= tuning.chunk:
                        yield sink.take()
            db.session.expunge(blob)  # keep the session small over many files
    finally:
        result.close()
    if lost:
        archive.writestr(MISSING_NAME, _missing_note(lost).encode("utf-8"))


def _missing_note(lost: list[str]) -> str:
    lines = [
        "Files missing from this export",
        "",
        "The server has a record of these files but their bytes are missing from its file",
        "store, so they could not be exported. An administrator can check the store with",
        "`collect blobs check`.",
        "",
        *lost,
        "",
    ]
    return "\n".join(lines)
