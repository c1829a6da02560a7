"""Content-addressed bytes: stored once per SHA-256 in the blob store, written before their row.

The store is a directory under the data directory (the default) or an S3-compatible bucket,
chosen by `COLLECT_BLOB_STORE` (`s3://bucket/prefix`). Either way a caller stores bytes with
`write`/`write_file` (durable and verified when they return), then inserts or commits the row
that points to them; a crash can leave bytes without a row, never a row without its bytes.
Reading opens the bytes first (`open`, which raises BlobMissing), so a response can still say
what went wrong before it starts.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from collect.errors import BlobMissing
from collect.storage.blobs.base import CHUNK, ChecksumMismatch, Opened, Readable, Store, Written
from collect.storage.blobs.directory import DirectoryStore
from collect.storage.db import db
from collect.storage.models import Blob, utcnow

__all__ = [
    "CHUNK",
    "BlobMissing",
    "ChecksumMismatch",
    "Opened",
    "Store",
    "Written",
    "add_row",
    "build",
    "exists",
    "open",
    "path_of",
    "put",
    "put_id",
    "read",
    "redirect_url",
    "row_values",
    "store",
    "stream",
    "sweep",
    "write",
    "write_file",
]

log = logging.getLogger("collect.blobs")
_EXTENSION = "collect.blobs"
_lock = threading.Lock()


# The app's stores ---------------------------------------------------------------------------


def build(location: str, config: dict[str, Any] | Any) -> Store:
    """The store at `location`: "dir" (the data directory's blobs/) or "s3://bucket/prefix"."""
    if location in ("", "dir"):
        return DirectoryStore(Path(config["BLOB_DIR"]))
    if location.startswith("s3://"):
        from collect.storage.blobs import s3  # boto3 is imported only when S3 is used

        bucket, prefix = s3.Settings.parse(location)
        return s3.S3Store(
            s3.Settings(
                bucket=bucket,
                prefix=prefix,
                endpoint_url=config.get("BLOB_S3_ENDPOINT_URL") or None,
                region=config.get("BLOB_S3_REGION") or None,
                access_key_id=config.get("BLOB_S3_ACCESS_KEY_ID") or None,
                secret_access_key=config.get("BLOB_S3_SECRET_ACCESS_KEY") or None,
                session_token=config.get("BLOB_S3_SESSION_TOKEN") or None,
                addressing_style=config.get("BLOB_S3_ADDRESSING_STYLE") or None,
                redirect_seconds=int(config.get("BLOB_S3_REDIRECT_SECONDS") or 0),
                public_endpoint_url=config.get("BLOB_S3_PUBLIC_ENDPOINT_URL") or None,
                multipart_bytes=int(config.get("BLOB_S3_MULTIPART_BYTES") or 64 << 20),
                part_bytes=int(config.get("BLOB_S3_PART_BYTES") or 16 << 20),
            )
        )
    raise ValueError(
        f"COLLECT_BLOB_STORE is {location!r}: use 'dir' (the default, files under the data "
        "directory) or 's3://bucket/prefix'."
    )


def store() -> Store:
    """The app's blob store (made once per app, shared by its threads)."""
    return _stores()[0]


def _stores() -> tuple[Store, Store | None]:
    """The store written to, and the one read when it lacks a blob (during a migration)."""
    found: tuple[Store, Store | None] | None = current_app.extensions.get(_EXTENSION)
    if found is None:
        with _lock:
            found = current_app.extensions.get(_EXTENSION)
            if found is None:
                config = current_app.config
                fallback = config.get("BLOB_FALLBACK") or ""
                found = (
                    build(config.get("BLOB_STORE") or "", config),
                    build(fallback, config) if fallback else None,
                )
                current_app.extensions[_EXTENSION] = found
    return found


def path_of(sha256: str) -> Path:
    """Where the directory store keeps (or would keep) these bytes."""
    return DirectoryStore(Path(current_app.config["BLOB_DIR"])).path_of(sha256)


def sweep() -> int:
    """Remove what interrupted writes left in the store; return how many were removed."""
    removed = store().sweep()
    if removed:
        log.info("Removed %d temporary files left by interrupted blob writes.", removed)
    return removed


# Writing -------------------------------------------------------------------------------------


def put(data: bytes, content_type: str = "application/octet-stream") -> Blob:
    """Store `data` durably and return its row, added but not committed.

    The bytes are in the store before the caller commits the row that points to them, so a
    crash can leave an orphan file but never a row without its bytes.
    """
    blob = db.session.get(Blob, put_id(data, content_type))
    assert blob is not None
    return blob


def put_id(data: bytes, content_type: str = "application/octet-stream") -> int:
    """`put` for the hot path: store the bytes and insert their row, returning only its id."""
    # Rows after the bytes: they are durable (and verified) before the row can commit.
    return add_row(write(data), content_type)


def write(data: bytes) -> Written:
    """Make bytes held in memory durable in the store; their row is the caller's.

    For callers that insert the row in a statement of their own; the row must not commit before
    this returns.
    """
    return store().write(data)


def write_file(source: Readable) -> Written:
    """`write` for a file object: hashed and copied in chunks, so memory stays flat."""
    return store().write_file(source)


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


# Reading -------------------------------------------------------------------------------------


def open(blob: Blob) -> Opened:
    """Open a blob's bytes; BlobMissing (404) when the store has lost them.

    Call it before a response starts: the returned object is the response's body (it yields
    chunks and is closed by Werkzeug), and nothing can fail half-way for want of the bytes.
    """
    primary, fallback = _stores()
    try:
        return primary.open(blob.sha256)
    except BlobMissing:
        if fallback is not None:
            try:
                return fallback.open(blob.sha256)
            except BlobMissing:
                pass
        log.error(
            "Blob %s (id %s, %s bytes) is missing from %s; run `collect blobs check`.",
            blob.sha256,
            blob.id,
            blob.size,
            primary.describe(),
        )
        raise


def stream(blob: Blob) -> Opened:
    """The bytes of a blob in chunks, for large media; opened now (see `open`)."""
    return open(blob)


def read(blob: Blob) -> bytes:
    """Return the bytes of a blob."""
    with open(blob) as opened:
        return opened.read()


def exists(blob: Blob) -> bool:
    """Whether the store holds the blob's bytes (not only its row)."""
    primary, fallback = _stores()
    return primary.exists(blob.sha256) or (fallback is not None and fallback.exists(blob.sha256))


def redirect_url(blob: Blob, filename: str) -> str | None:
    """A short-lived URL to download the bytes from the bucket itself, when so configured."""
    primary, fallback = _stores()
    if fallback is not None and not primary.exists(blob.sha256):
        return None  # not copied yet: the server streams it from the other store
    return primary.redirect_url(blob.sha256, blob.content_type, filename)
