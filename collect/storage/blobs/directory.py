"""The directory store: one file per SHA-256 under the data directory (the default).

Every file is written aside, fsynced, renamed into place and its folder fsynced, so a file under
its hash's name is always whole; a crash can leave a temporary file, which `sweep` removes.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from collect.storage.blobs.base import (
    CHUNK,
    SMALL,
    STALE_SECONDS,
    Hasher,
    Opened,
    Readable,
    Store,
    Written,
    check_expected,
    hashed,
    missing,
)

TMP_PREFIX = ".tmp-"
_HEX = frozenset("0123456789abcdef")


class DirectoryStore(Store):
    kind = "dir"

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return f"directory {self.root}"

    def path_of(self, sha256: str) -> Path:
        # One level of 256 folders: they all exist after the first few thousand files, so storing
        # a file rarely has to create (and fsync) a folder.
        return self.root / sha256[:2] / sha256

    def write(self, data: bytes) -> Written:
        written = hashed(data)
        target = self.path_of(written.sha256)
        if not target.exists():
            self._write_small(target, data)
        return written

    def write_file(self, source: Readable, expected: str | None = None) -> Written:
        first = source.read(SMALL + 1)
        if len(first) <= SMALL:
            written = hashed(first)
            check_expected(written, expected)
            target = self.path_of(written.sha256)
            if not target.exists():
                self._write_small(target, first)
            return written
        return self._write_large(first, source, expected)

    def _write_small(self, target: Path, data: bytes) -> None:
        self._folder(target.parent)
        # A name no other writer uses at the same time (random names cost more than the write):
        # the content's hash, this process and this thread.
        tmp = target.with_name(
            f"{TMP_PREFIX}{target.name}-{os.getpid()}-{threading.get_native_id()}"
        )
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

    def _write_large(self, first: bytes, source: Readable, expected: str | None) -> Written:
        # The name is known only at the end, so the bytes go to a temporary file in the root and
        # are hashed on the way; renamed into their folder once fsynced.
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{TMP_PREFIX}{secrets.token_hex(8)}"
        hasher = Hasher()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                chunk = first
                while chunk:
                    hasher.update(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                    chunk = source.read(CHUNK)
                written = hasher.written()
                check_expected(written, expected)
                target = self.path_of(written.sha256)
                if target.exists():
                    return written  # stored before: the temporary file goes, unsynced
                os.fsync(fd)
            finally:
                os.close(fd)
            self._folder(target.parent)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return written

    def _folder(self, folder: Path) -> None:
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            _fsync_dir(folder.parent)  # the new folder's own entry must survive a crash too

    def open(self, sha256: str) -> Opened:
        try:
            f = self.path_of(sha256).open("rb")
        except FileNotFoundError:
            raise missing(sha256) from None
        return Opened(f.read, os.fstat(f.fileno()).st_size, f.close)

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def inventory(self) -> Iterator[tuple[str, int]]:
        for folder in self._folders():
            with os.scandir(folder) as entries:
                for entry in entries:
                    if len(entry.name) == 64 and entry.name.startswith(folder.name):
                        yield entry.name, entry.stat().st_size

    def sweep(self, older_than: float = STALE_SECONDS) -> int:
        cutoff = time.time() - older_than
        removed = 0
        if not self.root.is_dir():
            return 0  # nothing stored yet
        for folder in (self.root, *self._folders()):
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith(TMP_PREFIX) and entry.stat().st_mtime < cutoff:
                        Path(entry.path).unlink(missing_ok=True)
                        removed += 1
        return removed

    def _folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [
            self.root / entry.name
            for entry in os.scandir(self.root)
            if len(entry.name) == 2 and set(entry.name) <= _HEX and entry.is_dir()
        ]


def _fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
