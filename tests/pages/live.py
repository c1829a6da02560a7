"""A real `collect serve` (gunicorn) in a subprocess, and headless Chromium to drive it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN = ("admin@example.org", "correct horse battery")


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        """Run the `collect` command against this server's data directory."""
        done = subprocess.run(
            [*_collect(), *args], env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout


def _collect() -> list[str]:
    return [sys.executable, "-c", "from collect.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(data_dir: Path, database_url: str | None = None) -> Iterator[Server]:
    """Upgrade the database, create the admin, and serve on a free loopback port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLECT_")}
    env.update(COLLECT_DATA_DIR=str(data_dir), COLLECT_ODK_VALIDATE="never")
    if database_url:
        env["COLLECT_DATABASE_URL"] = database_url
    port = _free_port()
    server = Server(f"http://127.0.0.1:{port}", data_dir, env)
    server.cli("db", "upgrade")
    server.cli("user", "create", ADMIN[0], "--password", ADMIN[1], "--admin")
    log = (data_dir / "server.log").open("w")
    proc = subprocess.Popen(
        [*_collect(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait(server.url + "/login", proc)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"collect serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"collect serve did not answer {url} within 60 s")
