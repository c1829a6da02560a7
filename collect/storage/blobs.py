"""Content-addressed bytes: stored once per SHA-256 in a directory, written before their row."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from collect.storage.db import db
from collect.storage.models import Blob

CHUNK = 1 << 20


def _root() -> Path:
    return Path(current_app.config["BLOB_DIR"])


def path_of(sha256: str) -> Path:
    return _root() / sha256[:2] / sha256[2:4] / sha256


def put(data: bytes, content_type: str = "application/octet-stream") -> Blob:
    """Store `data` durably (temp file, fsync, rename) and return its row, added but not committed.

    The file is on disk before the caller commits the row that points to it, so a crash can leave
    an orphan file but never a row without its bytes.
    """
    sha = hashlib.sha256(data).hexdigest()
    existing = db.session.scalar(select(Blob).where(Blob.sha256 == sha))
    target = path_of(sha)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    if existing is not None:
        return existing
    blob = Blob(
        sha256=sha,
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        size=len(data),
        content_type=content_type or "application/octet-stream",
    )
    try:
        # A savepoint, because another worker may store the same bytes at the same moment.
        with db.session.begin_nested():
            db.session.add(blob)
    except IntegrityError:
        return db.session.scalars(select(Blob).where(Blob.sha256 == sha)).one()
    return blob


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
