"""Content-addressed bytes: stored once per SHA-256 in a directory, written before their row."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from collect.storage.db import db
from collect.storage.models import Blob, utcnow

CHUNK = 1 << 20


def _root() -> Path:
    return Path(current_app.config["BLOB_DIR"])


def path_of(sha256: str) -> Path:
    # One level of 256 folders: they all exist after the first few thousand files, so storing a
    # file rarely has to create (and fsync) a folder.
    return _root() / sha256[:2] / sha256


def put(data: bytes, content_type: str = "application/octet-stream") -> Blob:
    """Store `data` durably (temp file, fsync, rename) and return its row, added but not committed.

    The file is on disk before the caller commits the row that points to it, so a crash can leave
    an orphan file but never a row without its bytes.
    """
    blob = db.session.get(Blob, put_id(data, content_type))
    assert blob is not None
    return blob


def put_id(data: bytes, content_type: str = "application/octet-stream") -> int:
    """`put` for the hot path: store the bytes and insert their row, returning only its id."""
    # Rows after the file: the bytes are durable (fsynced and renamed) before the row can commit.
    return add_row(write(data), content_type)


@dataclass(frozen=True)
class Written:
    """Bytes now durable in the store, and what their row records of them."""

    sha256: str
    md5: str
    size: int


def write(data: bytes) -> Written:
    """Make the bytes durable in the store (temp file, fsync, rename); their row is the caller's.

    For callers that insert the row in a statement of their own; the row must not commit before
    this returns.
    """
    sha = hashlib.sha256(data).hexdigest()
    _write(path_of(sha), data)
    return Written(sha, hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data))


def add_row(written: Written, content_type: str) -> int:
    """Insert the row of bytes `write` stored (or find the one already there); return its id.

    One `INSERT ... ON CONFLICT (sha256) DO NOTHING RETURNING id` in the session's transaction,
    and a SELECT only when the bytes were stored before: no savepoint, no ORM flush. Two workers
    storing the same bytes at once both end up with the one row (the second INSERT waits for the
    first one's transaction and then does nothing).
    """
    values = row_values(written, content_type)
    sql = db.session.connection()
    insert = _INSERTS[sql.dialect.name]
    blob_id = sql.execute(insert, values).scalar()
    if blob_id is None:
        blob_id = sql.execute(_BY_SHA, {"sha": written.sha256}).scalar_one()
    return int(blob_id)


def row_values(written: Written, content_type: str) -> dict[str, object]:
    return {
        "sha256": written.sha256,
        "md5": written.md5,
        "size": written.size,
        "content_type": content_type or "application/octet-stream",
        "created_at": utcnow(),
    }


def _write(target: Path, data: bytes) -> None:
    if target.exists():
        return
    if not target.parent.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        _fsync_dir(target.parent.parent)  # the new folder's own entry must survive a crash too
    # A name no other writer uses at the same time (mkstemp's random names cost more than the
    # write): the content's hash, this process and this thread.
    tmp = target.with_name(f".tmp-{target.name}-{os.getpid()}-{threading.get_native_id()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# Built once per dialect, so that the statements are compiled once per worker.
_INSERTS = {
    "sqlite": sqlite_insert(Blob)
    .on_conflict_do_nothing(index_elements=[Blob.sha256])
    .returning(Blob.id),
    "postgresql": pg_insert(Blob)
    .on_conflict_do_nothing(index_elements=[Blob.sha256])
    .returning(Blob.id),
}
_BY_SHA = select(Blob.id).where(Blob.sha256 == bindparam("sha"))


def read(blob: Blob) -> bytes:
    """Return the bytes of a blob."""
    return path_of(blob.sha256).read_bytes()


def stream(blob: Blob) -> Iterator[bytes]:
    """Yield the bytes of a blob in chunks, for large media (safe outside the app context)."""
    return _chunks(path_of(blob.sha256))


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk
