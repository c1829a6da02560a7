"""A real `collect serve` (gunicorn, several workers) on 127.0.0.1, for tests and benchmarks.

The server runs in its own process group, so a test can stop it, or kill master and workers at
once with SIGKILL as a power cut would, and start it again on the same data.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tests.pgcluster import _free_port

ADMIN = ("admin@example.org", "correct horse battery")


def environment(
    data_dir: Path, database_url: str | None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment `collect` runs with: this data dir and database, JavaRosa off, and
    `extra` (a blob store's settings, say)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLECT_")}
    env.update(COLLECT_DATA_DIR=str(data_dir), COLLECT_ODK_VALIDATE="never")
    if database_url and not database_url.startswith("sqlite"):
        env["COLLECT_DATABASE_URL"] = database_url
    env.update(extra or {})
    return env


def collect(
    data_dir: Path, database_url: str | None, *args: str, env: dict[str, str] | None = None
) -> str:
    """Run a `collect` subcommand against the data dir / database; return its output."""
    result = subprocess.run(
        [sys.executable, "-m", "collect.cli", *args],
        env=environment(data_dir, database_url, env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class Server:
    """`collect serve` on a free loopback port."""

    def __init__(
        self,
        database_url: str | None,
        data_dir: Path,
        *,
        workers: int = 2,
        quiet: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.env = dict(env or {})  # more settings; a test may change them between starts
        self.workers = workers
        self.quiet = quiet
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        """Run the `collect` command against this server's data directory and database."""
        return collect(self.data_dir, self.database_url, *args, env=self.env)

    def start(self, timeout: float = 60) -> None:
        self.port = _free_port()
        command = [
            sys.executable,
            "-m",
            "collect.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        self._log = (self.data_dir / "server.log").open("ab")
        self.process = subprocess.Popen(
            command,
            env=environment(self.data_dir, self.database_url, self.env),
            stdout=subprocess.DEVNULL if self.quiet else self._log,
            stderr=self._log,
            start_new_session=True,  # its own process group: we stop exactly what we started
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                self._log.close()
                raise RuntimeError(f"collect serve exited; see {self.data_dir / 'server.log'}")
            if self._answers():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("collect serve did not start in time")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(
                    b"HEAD /v1/key/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                )
                return s.recv(16).startswith(b"HTTP/1.1")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop (gunicorn's quick shutdown: SIGQUIT to the process group)."""
        self._signal(signal.SIGQUIT)

    def kill(self) -> None:
        """Kill the master and every worker at once, as a power cut would."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@contextmanager
def serve(
    data_dir: Path,
    database_url: str | None = None,
    *,
    workers: int = 2,
    admin: bool = True,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Migrate the database, create the admin (ADMIN), and serve until the block ends.

    `env`: COLLECT_* environment variables for the server, e.g. a smaller upload limit.
    """
    server = Server(database_url, data_dir, workers=workers, quiet=False, env=env)
    server.cli("db", "upgrade")
    if admin:
        server.cli("user", "create", ADMIN[0], "--password", ADMIN[1], "--admin")
    server.start()
    try:
        yield server
    finally:
        server.stop()
