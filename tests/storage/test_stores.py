"""The blob stores through their interface (`collect.storage.blobs`), on a directory and on S3.

What the layers above rely on: bytes stored under their SHA-256 are whole and verified when a
write returns; large files go in chunks with memory flat; missing bytes show when opening, not
half-way through a read; interrupted writes leave nothing a sweep does not remove.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from collect import create_app
from collect.errors import BlobMissing, Unavailable
from collect.storage import blobs
from collect.storage.blobs.base import ChecksumMismatch
from collect.storage.blobs.s3 import S3Store
from collect.storage.db import db
from collect.storage.models import Blob
from tests.pgcluster import _free_port
from tests.storage.conftest import on_store

MB = 1 << 20


def random_file(size: int, seed: int = 0) -> Iterator[bytes]:
    """Incompressible bytes in 1 MB blocks, the same for the same seed."""
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest() * (MB // 32)
    for i in range(0, size, MB):
        yield bytes(b ^ (i // MB % 251) for b in block[:16]) + block[16 : min(MB, size - i)]


def spooled(size: int, seed: int = 0) -> tuple[Any, str]:
    """A temporary file of `size` bytes at its start, and their SHA-256."""
    f = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    digest = hashlib.sha256()
    for block in random_file(size, seed):
        f.write(block)
        digest.update(block)
    f.seek(0)
    return f, digest.hexdigest()


class Unseekable(io.RawIOBase):
    """A stream that can be read once, like a request body."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return bytes(self.source.read(n))


@pytest.mark.parametrize("seekable", [True, False], ids=["spooled-file", "stream"])
def test_a_large_file_is_stored_in_chunks_with_memory_flat(app: Flask, seekable: bool) -> None:
    size = 40 * MB
    source, sha = spooled(size, seed=1)
    with source, app.app_context():
        blobs.write(b"warm-up")  # S3: the client's model is loaded once per process, not here
        tracemalloc.start()
        try:
            written = blobs.write_file(source if seekable else Unseekable(source))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert (written.sha256, written.size) == (sha, size)
        # Chunks of 1 MB, or on S3 a part (5 MB here) and its copy on the way out.
        part = app.config.get("BLOB_S3_PART_BYTES", 0)
        limit = 2 * part + 2 * MB if blobs.store().kind == "s3" else 4 * MB
        assert peak < limit, f"{peak / MB:.1f} MB held to store {size / MB:.0f} MB"
        assert blobs.store().exists(sha)
        assert dict(blobs.store().inventory())[sha] == size
        digest = hashlib.sha256()
        with blobs.store().open(sha) as opened:
            assert opened.size == size
            for chunk in opened:
                digest.update(chunk)
        assert digest.hexdigest() == sha


def test_a_small_file_and_the_same_bytes_again_make_one_blob(app: Flask) -> None:
    photo = os.urandom(50_000)
    with app.app_context():
        first = blobs.add_row(blobs.write_file(io.BytesIO(photo)), "image/jpeg")
        again = blobs.put_id(photo, "image/jpeg")
        db.session.commit()
        assert first == again
        blob = db.session.get(Blob, first)
        assert blob is not None and blob.size == len(photo)
        assert blobs.read(blob) == photo
        assert [sha for sha, _ in blobs.store().inventory()] == [blob.sha256]


@pytest.mark.parametrize("size", [1000, 8 * MB], ids=["small", "in-parts"])
def test_bytes_that_do_not_hash_to_the_expected_sha256_are_not_kept(app: Flask, size: int) -> None:
    source, sha = spooled(size, seed=2)
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    with source, app.app_context():
        store = blobs.store()
        with pytest.raises(ChecksumMismatch):
            store.write_file(source, expected=wrong)
        assert not store.exists(sha) and not store.exists(wrong)
        assert list(store.inventory()) == []
        source.seek(0)
        assert store.write_file(source, expected=sha).sha256 == sha


def test_missing_bytes_show_when_opening(app: Flask) -> None:
    with app.app_context():
        blob_id = blobs.put_id(b"a photo", "image/jpeg")
        db.session.commit()
        blob = db.session.get(Blob, blob_id)
        assert blob is not None
        assert blobs.exists(blob)
        remove(app, blob.sha256)
        assert not blobs.exists(blob)
        with pytest.raises(BlobMissing) as raised:
            blobs.open(blob)
        assert raised.value.status == 404
        assert "collect blobs check" in raised.value.message


def test_the_fallback_store_serves_what_the_store_lacks(
    request: pytest.FixtureRequest, app_config: dict[str, Any], app: Flask
) -> None:
    """During a migration the server reads from the old store what is not copied yet."""
    with app.app_context():
        blob_id = blobs.put_id(b"written before the switch", "text/plain")
        db.session.commit()
    original = app.config["BLOB_STORE"]
    other = "s3" if original == "dir" else "dir"
    kept = {k: v for k, v in app_config.items() if k.startswith("BLOB_S3_")}  # the old bucket's
    settings = {**kept, **on_store(request, app_config, other), "BLOB_FALLBACK": original}
    switched = create_app(settings)
    with switched.app_context():
        blob = db.session.get(Blob, blob_id)
        assert blob is not None
        assert blobs.store().kind == other and not blobs.store().exists(blob.sha256)
        assert blobs.exists(blob)
        assert blobs.read(blob) == b"written before the switch"
        db.session.remove()
        db.engine.dispose()


def test_a_sweep_removes_what_interrupted_writes_left_and_nothing_live(app: Flask) -> None:
    with app.app_context():
        store = blobs.store()
        assert blobs.sweep() == 0  # nothing stored yet: not even a folder for the files
        store.write(b"kept")
        if isinstance(store, S3Store):
            for name in ("stale", "live"):
                store.client.create_multipart_upload(Bucket=store.bucket, Key=store.key(name * 8))
            time.sleep(1.1)  # S3 keeps the time an upload began to the second
            store.client.create_multipart_upload(Bucket=store.bucket, Key=store.key("n" * 64))
            assert store.sweep(older_than=1) == 2
            assert store.sweep() == 0
            left = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix)
            assert [u["Key"] for u in left.get("Uploads", [])] == [store.key("n" * 64)]
        else:
            root = Path(app.config["BLOB_DIR"])
            folder = blobs.path_of(hashlib.sha256(b"kept").hexdigest()).parent
            stale = [root / ".tmp-0123456789abcdef", folder / f".tmp-{'a' * 64}-12-34"]
            live = root / ".tmp-fedcba9876543210"
            for path in (*stale, live):
                path.write_bytes(b"half a photo")
            an_hour_ago = time.time() - 3600
            for path in stale:
                os.utime(path, (an_hour_ago, an_hour_ago))
            assert blobs.sweep() == 2
            assert live.exists() and not any(p.exists() for p in stale)
        assert store.exists(hashlib.sha256(b"kept").hexdigest())


def test_an_unreachable_s3_server_is_a_503_and_stores_no_row(
    app_config: dict[str, Any],
) -> None:
    if app_config["BLOB_STORE"] == "dir":
        pytest.skip("the directory store has no server to lose")
    down = create_app({**app_config, "BLOB_S3_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}"})
    with down.app_context():
        with pytest.raises(Unavailable) as raised:
            blobs.put_id(b"a photo", "image/jpeg")
        assert raised.value.status == 503
        assert "127.0.0.1" not in raised.value.message  # internal addresses stay in the log
        db.session.rollback()
        assert db.session.query(Blob).count() == 0
        db.session.remove()
        db.engine.dispose()


def remove(app: Flask, sha256: str) -> None:
    """Lose a blob's bytes behind the app's back, as a failed disk or a careless admin would."""
    store = blobs.store()
    if isinstance(store, S3Store):
        store.client.delete_object(Bucket=store.bucket, Key=store.key(sha256))
    else:
        blobs.path_of(sha256).unlink()


def corrupt(app: Flask, sha256: str) -> None:
    """Change a blob's bytes behind the app's back (same size, one byte flipped)."""
    store = blobs.store()
    with store.open(sha256) as opened:
        data = bytearray(opened.read())
    data[len(data) // 2] ^= 0xFF
    if isinstance(store, S3Store):
        store.client.put_object(Bucket=store.bucket, Key=store.key(sha256), Body=bytes(data))
    else:
        blobs.path_of(sha256).write_bytes(bytes(data))
