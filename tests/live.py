"""A real `collect serve` (gunicorn) in a subprocess, for tests that need a running server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.pgcluster import _free_port


def collect(data_dir: Path, database_url: str | None, *args: str) -> str:
    """Run a `collect` subcommand against the data dir / database; return its output."""
    result = subprocess.run(
        [sys.executable, "-m", "collect.cli", *args],
        env=_env(data_dir, database_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "COLLECT_DATA_DIR": str(data_dir), "COLLECT_ODK_VALIDATE": "never"}
    if database_url and not database_url.startswith("sqlite"):
        env["COLLECT_DATABASE_URL"] = database_url
    else:
        env.pop("COLLECT_DATABASE_URL", None)
    return env


@contextmanager
def serve(data_dir: Path, database_url: str | None = None, workers: int = 2) -> Iterator[str]:
    """Start `collect serve` on a free loopback port; yield its base URL; stop it after."""
    port = _free_port()
    log = (data_dir / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collect.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=_env(data_dir, database_url),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/v1/users/current", timeout=2)
            except urllib.error.HTTPError:
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((data_dir / "server.log").read_text()) from None
                time.sleep(0.1)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
