"""The web-form bundle: built from assets/ (npm, a pinned lock file) into collect/static/webforms/.

The built files are never committed. `collect assets build` (and `./dev`, at set-up) runs
`npm ci` from assets/package-lock.json and then assets/build.mjs (esbuild); a stamp holding the
digest of the sources makes a second run with nothing changed return at once. Pages that need
the bundle read its manifest here and, when it is missing, say which command builds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "assets"
OUTPUT_DIR = Path(__file__).resolve().parent / "static" / "webforms"
PUBLIC_PATH = "/webforms/static/"
BUILD_COMMAND = "collect assets build"
STAMP_NAME = "build-stamp"
INSTALL_STAMP = SOURCE_DIR / "node_modules" / ".collect-lock-sha256"
# The inputs of a build; anything else under assets/ (node_modules) is derived from these.
SOURCES = ("package.json", "package-lock.json", "build.mjs", "src")
NODE_TIMEOUT = 900


class BuildFailed(Exception):
    """The bundle could not be built; the message says what to install or fix."""


@dataclass(frozen=True)
class Bundle:
    """What a page links to, read from the build's manifest.json."""

    version: str
    js: str
    css: str | None
    preload: tuple[str, ...]
    sizes: dict[str, dict[str, int]]


def source_digest(source_dir: Path = SOURCE_DIR) -> str:
    """SHA-256 over the names and bytes of every build input, in a fixed order."""
    digest = hashlib.sha256()
    for path in _inputs(source_dir):
        digest.update(path.relative_to(source_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _inputs(source_dir: Path) -> Iterator[Path]:
    for name in SOURCES:
        path = source_dir / name
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.exists():
            yield path


def is_current(output_dir: Path = OUTPUT_DIR, source_dir: Path = SOURCE_DIR) -> bool:
    """True when the built bundle is complete and was built from today's sources."""
    stamp = output_dir / STAMP_NAME
    if not stamp.exists() or not (output_dir / "manifest.json").exists():
        return False
    return stamp.read_text().strip() == source_digest(source_dir)


def build(
    *,
    force: bool = False,
    output_dir: Path = OUTPUT_DIR,
    source_dir: Path = SOURCE_DIR,
    log: Callable[[str], None] = print,
) -> bool:
    """Build the bundle unless it is current; True when it was built, False when up to date."""
    with _build_lock(source_dir):
        if not force and is_current(output_dir, source_dir):
            return False
        node, npm = _tools()
        lock = source_dir / "package-lock.json"
        if not lock.exists():
            raise BuildFailed(f"{lock} is missing: it pins the web-form bundle's packages.")
        lock_digest = hashlib.sha256(lock.read_bytes()).hexdigest()
        install_stamp = source_dir / "node_modules" / INSTALL_STAMP.name
        if force or not install_stamp.exists() or install_stamp.read_text() != lock_digest:
            log("== npm ci (assets/package-lock.json)")
            _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], source_dir)
            install_stamp.write_text(lock_digest)
        log("== Building the web-form bundle (esbuild)")
        fresh = output_dir.with_name(output_dir.name + ".new")
        shutil.rmtree(fresh, ignore_errors=True)
        _run(
            [node, "build.mjs", "--outdir", str(fresh), "--public-path", PUBLIC_PATH],
            source_dir,
            log=log,
        )
        (fresh / STAMP_NAME).write_text(source_digest(source_dir) + "\n")
        _swap(fresh, output_dir)
        return True


def _tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise BuildFailed(
            "Node.js 20 or later, with npm, is needed to build the web-form bundle "
            "(Debian: apt-get install nodejs npm). Then run `collect assets build`."
        )
    return node, npm


def _run(command: list[str], cwd: Path, log: Callable[[str], None] | None = None) -> None:
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=NODE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise BuildFailed(f"`{' '.join(command)}` took longer than {NODE_TIMEOUT} s.") from e
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()[-4000:]
        raise BuildFailed(f"`{' '.join(command)}` failed in {cwd}:\n{output}")
    if log and done.stdout.strip():
        log(done.stdout.strip())


def _swap(fresh: Path, output_dir: Path) -> None:
    """Put the new build in place; the old one is gone a moment later, never half-written."""
    old = output_dir.with_name(output_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if output_dir.exists():
        output_dir.rename(old)
    fresh.rename(output_dir)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _build_lock(source_dir: Path) -> Iterator[None]:
    # Two test workers, or `./dev` next to a running `collect assets build`, build one at a time;
    # the second then finds the bundle current.
    with open(source_dir / ".build.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_cache: dict[Path, tuple[float, Bundle]] = {}


def bundle(output_dir: Path = OUTPUT_DIR) -> Bundle | None:
    """The built bundle's manifest, or None when it has not been built."""
    path = output_dir / "manifest.json"
    try:
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    data: dict[str, Any] = json.loads(path.read_text())
    found = Bundle(
        version=data["version"],
        js=data["page"]["js"],
        css=data["page"]["css"],
        preload=tuple(data["preload"]),
        sizes=data["sizes"],
    )
    _cache[path] = (mtime, found)
    return found


def missing_message() -> str:
    """What to tell someone who opens a web-form page before the bundle was built."""
    return (
        "The web-form bundle has not been built on this server. Run `collect assets build` "
        "(it needs Node.js 20 and npm), or `./dev demo` / `./dev test`, which build it."
    )
