"""A real `collect serve` (gunicorn, several workers) on 127.0.0.1, for tests and benchmarks.

Unlike tests/live.py's `serve()`, the server runs in its own process group, so that a test can
kill master and workers with SIGKILL, as a power cut would, and start it again on the same data.
Data is set up and inspected in-process, through an app on the same database and blob folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask import Flask

from collect import create_app
from collect.domain import users
from collect.storage.db import db
from tests.helpers import sign_in
from tests.pgcluster import _free_port

ADMIN = ("live-admin@example.org", "correct horse battery")


class Server:
    """`collect serve` on a free loopback port."""

    def __init__(
        self, database_url: str, data_dir: Path, *, workers: int = 2, quiet: bool = True
    ) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.workers = workers
        self.quiet = quiet
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "COLLECT_DATABASE_URL": self.database_url,
            "COLLECT_DATA_DIR": str(self.data_dir),
            "COLLECT_ODK_VALIDATE": "never",
        }
        command = [
            sys.executable,
            "-c",
            "from collect.cli import main; main()",
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
            env=env,
            stdout=subprocess.DEVNULL if self.quiet else self._log,
            stderr=self._log,
            start_new_session=True,  # its own process group: we stop exactly what we started
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
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


@dataclass
class Site:
    """A project with a published form and an app user assigned to it."""

    app: Flask
    project: int
    form_id: str
    token: str

    def server_url(self, base: str) -> str:
        return f"{base}/v1/key/{self.token}/projects/{self.project}"


def local_app(database_url: str, data_dir: Path) -> Flask:
    """An in-process app on the server's database and blob folder."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "DATA_DIR": str(data_dir),
            "ODK_VALIDATE": "never",
            "TESTING": True,
        }
    )


def set_up(app: Flask, form_xml: bytes, *, media: dict[str, bytes] | None = None) -> Site:
    """Create an admin, a project, the form (published) and an app user assigned to it."""
    with app.app_context():
        users.create(*ADMIN, is_admin=True)
    admin = sign_in(app.test_client(), *ADMIN)
    project = _ok(admin.post("/v1/projects", json={"name": "Live"}))["id"]
    xml = {"Content-Type": "application/xml"}
    form_id = _ok(
        admin.post(f"/v1/projects/{project}/forms?publish=true", data=form_xml, headers=xml)
    )["xmlFormId"]
    app_user = _ok(admin.post(f"/v1/projects/{project}/app-users", json={"displayName": "Phone"}))
    _ok(admin.post(f"/v1/projects/{project}/forms/{form_id}/assignments/app-user/{app_user['id']}"))
    return Site(app, project, form_id, app_user["token"])


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.get_json()
    return response.get_json()
