"""Every blob the rows name, checked in a store or copied to another, while the server runs.

Both walk the `blobs` table in id order, in short read transactions, so they hold no lock and
see rows the server adds while they run. A copy is verified as it is written (the bytes must
hash to the row's SHA-256), and blobs the target already holds are skipped, so a migration
interrupted at any point is resumed by running it again.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from flask import Flask
from sqlalchemy import select

from collect.errors import BlobMissing
from collect.storage.blobs.base import ChecksumMismatch, Store
from collect.storage.db import db
from collect.storage.models import (
    Blob,
    Form,
    FormAttachment,
    FormDef,
    SubmissionAttachment,
    SubmissionDef,
)

BATCH = 500


class Row(NamedTuple):
    id: int
    sha256: str
    size: int


@dataclass(frozen=True)
class Problem:
    """A blob whose bytes are not as its row says: missing, or other bytes."""

    row: Row
    kind: str  # "missing" or "corrupt"
    detail: str = ""


@dataclass
class Tally:
    """What a check or a migration found, as it goes."""

    rows: int = 0
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0
    orphans: int = 0  # bytes in the store that no row names (an interrupted write's)
    problems: list[Problem] = field(default_factory=list)


def rows(after: int = 0) -> Iterator[Row]:
    """Every blob row, oldest first, read in batches that each end their transaction."""
    while True:
        batch = [
            Row(*r)
            for r in db.session.execute(
                select(Blob.id, Blob.sha256, Blob.size)
                .where(Blob.id > after)
                .order_by(Blob.id)
                .limit(BATCH)
            )
        ]
        db.session.rollback()  # no snapshot held open while the server writes
        if not batch:
            return
        yield from batch
        after = batch[-1].id


def migrate(
    app: Flask,
    source: Store,
    target: Store,
    *,
    jobs: int = 4,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Copy every blob the rows name from `source` to `target`, verifying each one's hash."""
    tally = Tally()
    with app.app_context():
        present = dict(target.inventory())

        def copy(row: Row) -> Problem | None:
            try:
                with source.open(row.sha256) as opened:
                    target.write_file(opened, expected=row.sha256)
            except BlobMissing:
                # The server may have written it to the target itself (it already uses it).
                return None if target.exists(row.sha256) else Problem(row, "missing")
            except ChecksumMismatch as e:
                return Problem(row, "corrupt", str(e))
            return None

        def wanted() -> Iterator[Row]:
            for row in rows():
                tally.rows += 1
                if present.get(row.sha256) == row.size:
                    tally.present += 1
                else:
                    yield row

        for row, problem in _in_parallel(copy, wanted(), jobs):
            if problem is None:
                tally.copied += 1
                tally.copied_bytes += row.size
            else:
                tally.problems.append(problem)
            if progress is not None:
                progress(tally)
        db.session.remove()
    return tally


def _in_parallel(
    work: Callable[[Row], Problem | None], found: Iterator[Row], jobs: int
) -> Iterator[tuple[Row, Problem | None]]:
    """`work` on each row from `jobs` threads, a bounded window of rows at a time, in order."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        window: deque[tuple[Row, Future[Problem | None]]] = deque()
        for row in found:
            window.append((row, pool.submit(work, row)))
            if len(window) >= 4 * jobs:
                first, future = window.popleft()
                yield first, future.result()
        while window:
            first, future = window.popleft()
            yield first, future.result()


def check(
    app: Flask,
    store: Store,
    *,
    quick: bool = False,
    jobs: int = 4,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Find the blobs whose bytes `store` lacks or holds altered; `quick` compares sizes only."""
    tally = Tally()
    with app.app_context():
        present = dict(store.inventory())

        def verify(row: Row) -> Problem | None:
            size = present.get(row.sha256)
            if size is None:
                return Problem(row, "missing")
            if size != row.size:
                return Problem(row, "corrupt", f"{size} bytes stored, {row.size} expected")
            if quick:
                return None
            digest = hashlib.sha256()
            try:
                with store.open(row.sha256) as opened:
                    for chunk in opened:
                        digest.update(chunk)
            except BlobMissing:
                return Problem(row, "missing")
            if digest.hexdigest() != row.sha256:
                return Problem(row, "corrupt", f"the bytes hash to {digest.hexdigest()}")
            return None

        for _, problem in _in_parallel(verify, _counted(rows(), tally), jobs):
            if problem is None:
                tally.present += 1
            else:
                tally.problems.append(problem)
            if progress is not None:
                progress(tally)
        named = tally.present + sum(1 for p in tally.problems if p.kind == "corrupt")
        tally.orphans = max(0, len(present) - named)
        db.session.remove()
    return tally


def _counted(found: Iterator[Row], tally: Tally) -> Iterator[Row]:
    for row in found:
        tally.rows += 1
        yield row


def used_by(app: Flask, blob_id: int) -> list[str]:
    """What points to a blob, as a person would look for it: forms, media, submissions' files."""
    with app.app_context():
        uses = [
            f"form '{form_id}' workbook (version {version or '-'})"
            for form_id, version in db.session.execute(
                select(Form.xml_form_id, FormDef.version)
                .join(FormDef, FormDef.form_id == Form.id)
                .where(FormDef.xls_blob_id == blob_id)
            )
        ]
        uses += [
            f"form '{form_id}' media file '{name}' (version {version or '-'})"
            for form_id, version, name in db.session.execute(
                select(Form.xml_form_id, FormDef.version, FormAttachment.name)
                .join(FormDef, FormDef.form_id == Form.id)
                .join(FormAttachment, FormAttachment.form_def_id == FormDef.id)
                .where(FormAttachment.blob_id == blob_id)
            )
        ]
        uses += [
            f"form '{form_id}' submission {instance_id} file '{name}'"
            for form_id, instance_id, name in db.session.execute(
                select(Form.xml_form_id, SubmissionDef.instance_id, SubmissionAttachment.name)
                .join(SubmissionDef, SubmissionDef.form_id == Form.id)
                .join(
                    SubmissionAttachment,
                    SubmissionAttachment.submission_def_id == SubmissionDef.id,
                )
                .where(SubmissionAttachment.blob_id == blob_id)
            )
        ]
        db.session.remove()
    return uses
