"""`collect assets build`: rebuilt only when a source changed; clear when Node.js is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from collect import assets


def copy_sources(target: Path) -> Path:
    """The build's inputs in a folder of their own (node_modules is derived, so not copied)."""
    target.mkdir()
    for name in assets.SOURCES:
        source = assets.SOURCE_DIR / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy2(source, target / name)
    return target


def stamped(output: Path, sources: Path) -> Path:
    output.mkdir()
    (output / "manifest.json").write_text("{}")
    (output / assets.STAMP_NAME).write_text(assets.source_digest(sources) + "\n")
    return output


def test_a_build_is_current_until_a_source_changes(tmp_path: Path) -> None:
    sources = copy_sources(tmp_path / "assets")
    output = stamped(tmp_path / "out", sources)
    assert assets.is_current(output, sources)
    (sources / "node_modules").mkdir()
    (sources / "node_modules" / "anything.js").write_text("installed, not a source")
    assert assets.is_current(output, sources)

    page = sources / "src" / "page.js"
    page.write_text(page.read_text() + "\n// changed\n")
    assert not assets.is_current(output, sources)

    output = stamped(tmp_path / "out2", sources)
    (sources / "src" / "new.js").write_text("export const x = 1;\n")
    assert not assets.is_current(output, sources)


def test_the_lock_file_counts_as_a_source(tmp_path: Path) -> None:
    sources = copy_sources(tmp_path / "assets")
    output = stamped(tmp_path / "out", sources)
    lock = sources / "package-lock.json"
    lock.write_text(lock.read_text().replace('"lockfileVersion"', '"lockfileVersion" ', 1))
    assert not assets.is_current(output, sources)


def test_a_missing_or_half_built_bundle_is_not_current(tmp_path: Path) -> None:
    sources = copy_sources(tmp_path / "assets")
    assert not assets.is_current(tmp_path / "nothing", sources)
    half = tmp_path / "half"
    half.mkdir()
    (half / assets.STAMP_NAME).write_text(assets.source_digest(sources))
    assert not assets.is_current(half, sources)  # no manifest.json
    assert assets.bundle(half) is None


def run_cli(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "collect.cli", "assets", "build", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )


def test_a_second_build_returns_at_once(bundle: assets.Bundle) -> None:
    started = time.monotonic()
    again = run_cli()
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "The web-form bundle is up to date."
    assert time.monotonic() - started < 30
    assert assets.bundle() == bundle


def test_without_node_the_build_says_what_to_install(bundle: assets.Bundle, tmp_path: Path) -> None:
    failed = run_cli("--force", path=str(tmp_path))
    assert failed.returncode == 1
    assert "Node.js 20 or later, with npm, is needed" in failed.stderr
    assert "collect assets build" in failed.stderr
    # The bundle already built is left as it was.
    assert assets.is_current()
