"""What every blob store does: bytes in by content (SHA-256), bytes out opened before use.

A store knows nothing of rows: it makes bytes durable under their hash and gives them back. The
package's `__init__` pairs it with the `blobs` table, whose row is committed only after the
store's write has returned.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from collect.errors import BlobMissing

CHUNK = 1 << 20
# Files up to this size are hashed and written from memory in one go (a phone's photo); larger
# ones are copied in chunks of CHUNK, so a worker's memory stays flat whatever the file's size.
SMALL = 1 << 20
# Temporary files and unfinished uploads older than this are left by a crash: no live writer
# keeps one that long (a directory temp file's mtime moves with every chunk written to it).
STALE_SECONDS = 15 * 60


class Readable(Protocol):
    """What a store copies from: a file, a spooled upload, another store's opened blob."""

    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Written:
    """Bytes now durable in the store, and what their row records of them."""

    sha256: str
    md5: str
    size: int


class ChecksumMismatch(Exception):
    """Bytes did not hash to the SHA-256 they were to be stored under; nothing was stored."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"expected SHA-256 {expected}, the bytes hash to {found}")
        self.expected = expected
        self.found = found


class Hasher:
    """SHA-256, MD5 (Collect's manifest hash) and size of bytes seen in chunks."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._sha.update(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    def written(self) -> Written:
        return Written(self._sha.hexdigest(), self._md5.hexdigest(), self.size)


def hashed(data: bytes) -> Written:
    """The row's description of bytes held in memory."""
    sha = hashlib.sha256(data).hexdigest()
    return Written(sha, hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data))


def check_expected(written: Written, expected: str | None) -> None:
    if expected is not None and written.sha256 != expected:
        raise ChecksumMismatch(expected, written.sha256)


class Opened:
    """One blob's bytes, already opened: iterate for chunks, or `read` as from a file.

    Opening is where a missing blob shows (BlobMissing), so a view opens before its response
    starts and can still answer an error. Werkzeug closes it once the response is sent.
    """

    def __init__(self, read: Callable[[int], bytes], size: int, close: Callable[[], None]) -> None:
        self._read = read
        self._close = close
        self.size = size
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            return b"".join(iter(lambda: self._read(CHUNK), b""))
        return self._read(n)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = self._read(CHUNK)
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._close()

    def __enter__(self) -> Opened:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def missing(sha256: str) -> BlobMissing:
    return BlobMissing(
        f"The server has lost the bytes of this file (SHA-256 {sha256[:12]}…): its record is "
        "there but the file store does not have it. An administrator can list every such file "
        "with `collect blobs check`."
    )


class Store(ABC):
    """A place for bytes named by their SHA-256: a directory or an S3 bucket."""

    kind: str  # "dir" or "s3", as `collect blobs migrate --to` names them

    @abstractmethod
    def describe(self) -> str:
        """Where the bytes are, for people: a folder, or a bucket and prefix."""

    @abstractmethod
    def write(self, data: bytes) -> Written:
        """Make bytes held in memory durable and verified under their SHA-256."""

    @abstractmethod
    def write_file(self, source: Readable, expected: str | None = None) -> Written:
        """Copy a file's bytes (from its position to its end) in chunks, durable and verified.

        With `expected`, bytes that do not hash to it raise ChecksumMismatch and are not kept.
        """

    @abstractmethod
    def open(self, sha256: str) -> Opened:
        """Open the bytes for reading; BlobMissing when the store does not have them."""

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether the store holds the bytes (asked of the store, not of a row)."""

    @abstractmethod
    def inventory(self) -> Iterator[tuple[str, int]]:
        """Every (SHA-256, size) the store holds, in no particular order."""

    @abstractmethod
    def sweep(self, older_than: float = STALE_SECONDS) -> int:
        """Remove what interrupted writes left (older than `older_than` seconds); the count."""

    def redirect_url(self, sha256: str, content_type: str, filename: str) -> str | None:
        """A short-lived URL a client may download the bytes from directly, when configured."""
        return None
