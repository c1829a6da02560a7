"""`collect blobs migrate` both ways while a real server (gunicorn) takes submissions.

A phone keeps sending forms with photos and a reader keeps downloading them while the blobs move
from the data directory to S3 and back, as README's procedure says: migrate, restart on the
new store with the old one as fallback, migrate again. Every acknowledged photo must download
whole at every moment, and `collect blobs check` must find the new store complete.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import pgcluster
from tests.conftest import BACKENDS
from tests.live import Server
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, Instance, http_transport
from tests.openrosa.live import ADMIN, Site, dispose, local_app, set_up
from tests.seaweed import S3Server


class Traffic:
    """A phone sending a form with its own photo now and then, and a reader downloading each
    acknowledged photo; both follow the server across restarts (a new port each time)."""

    def __init__(self, server: Server, site: Site) -> None:
        self.server = server
        self.site = site
        self.acknowledged: dict[str, bytes] = {}
        self.failures: list[str] = []
        self.downloads = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send), threading.Thread(target=self._read)]
        self._token = ""

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        """Until `count` more submissions are acknowledged."""
        target = len(self.acknowledged) + count
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < target:
            assert time.monotonic() < deadline, "the phone's submissions stopped being stored"
            assert not self.failures, self.failures
            time.sleep(0.05)

    def _send(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            instance_id = samples.new_id()
            photo = samples.jpeg(40_000, seed=10_000 + n)
            xml = samples.household(photo="house.jpg", instance_id=instance_id)
            instance = Instance(xml, [("house.jpg", photo)])
            while not self._stop.is_set():  # as Collect does: again until the server says 201
                try:
                    url = self.site.server_url(self.server.url)
                    if CollectDevice(url, http_transport(timeout=30)).send(instance).success:
                        self.acknowledged[instance_id] = photo
                        break
                except OSError:
                    pass  # restarting
                time.sleep(0.2)
            time.sleep(0.2)

    def _read(self) -> None:
        while not self._stop.is_set():
            for instance_id, photo in list(self.acknowledged.items()):
                if self._stop.is_set():
                    return
                try:
                    status, body = self.download(instance_id)
                except OSError:
                    time.sleep(0.2)  # restarting
                    continue
                self.downloads += 1
                if status != 200 or body != photo:
                    self.failures.append(f"{instance_id}: {status} {body[:200]!r}")
            time.sleep(0.1)

    def download(self, instance_id: str) -> tuple[int, bytes]:
        if not self._token:
            self._token = self._sign_in()
        site = self.site
        path = (
            f"/v1/projects/{site.project}/forms/{site.form_id}/submissions/{instance_id}"
            "/attachments/house.jpg"
        )
        return self._request("GET", path, None, {"Authorization": f"Bearer {self._token}"})

    def _sign_in(self) -> str:
        body = json.dumps({"email": ADMIN[0], "password": ADMIN[1]}).encode()
        status, answer = self._request(
            "POST", "/v1/sessions", body, {"Content-Type": "application/json"}
        )
        assert status == 200, answer
        token: str = json.loads(answer)["token"]
        return token

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


# One database is enough here (PostgreSQL when it runs): the blobs are what moves, and several
# app servers over one PostgreSQL is where S3 is used.
@pytest.fixture(params=BACKENDS[-1:])
def live(
    request: pytest.FixtureRequest, tmp_path: Path, s3_server: S3Server
) -> Iterator[tuple[Server, Site]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'collect.db'}"
    else:
        url = pgcluster.create_database(
            request.getfixturevalue("postgres_url"),
            f"collect_migrate_{request.getfixturevalue('worker_id')}",
        )
    server = Server(url, tmp_path, workers=2, env=s3_server.environment())
    server.cli("db", "upgrade")
    app = local_app(url, tmp_path)
    try:
        yield server, set_up(app, samples.household_xml())
    finally:
        server.stop()
        dispose(app)


def test_blobs_move_to_s3_and_back_while_the_server_serves(
    live: tuple[Server, Site], s3_server: S3Server
) -> None:
    server, site = live
    bucket = f"s3://{s3_server.bucket}/migrate-{uuid.uuid4().hex[:8]}"
    blob_dir = server.data_dir / "blobs"
    blob_dir.mkdir()
    stale = blob_dir / ".tmp-left-by-a-crash"
    stale.write_bytes(b"half a photo")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    server.start()
    assert not stale.exists()  # swept as the server started

    with Traffic(server, site) as traffic:
        traffic.wait_for(5)
        # To S3: copy, restart on S3 reading the directory for what is not copied, copy again.
        first = server.cli("blobs", "migrate", "--to", "s3", "--s3", bucket)
        traffic.wait_for(3)
        restart(server, COLLECT_BLOB_STORE=bucket, COLLECT_BLOB_FALLBACK="dir")
        traffic.wait_for(3)
        again = server.cli("blobs", "migrate", "--to", "s3")
        assert " 0 not copied" in first and " 0 not copied" in again
        assert "already there" in again
        traffic.wait_for(3)
        # Back to a directory that starts empty.
        shutil.move(blob_dir, server.data_dir / "blobs-before")
        back = server.cli("blobs", "migrate", "--to", "dir")
        restart(server, COLLECT_BLOB_STORE="dir", COLLECT_BLOB_FALLBACK=bucket)
        traffic.wait_for(3)
        back_again = server.cli("blobs", "migrate", "--to", "dir", "--s3", bucket)
        assert " 0 not copied" in back and " 0 not copied" in back_again
        traffic.wait_for(2)
    assert not traffic.failures, traffic.failures
    assert traffic.downloads > len(traffic.acknowledged)

    # The directory now holds every blob by itself: no fallback, every photo whole.
    restart(server, COLLECT_BLOB_STORE="dir")
    checked = server.cli("blobs", "check")
    count = len(traffic.acknowledged)
    assert f"{count} blobs checked: {count} intact, 0 missing, 0 corrupt." in checked
    for instance_id, photo in traffic.acknowledged.items():
        assert traffic.download(instance_id) == (200, photo)
    assert hashlib.sha256(photo).hexdigest() in {p.name for p in blob_dir.glob("*/*")}
    for line in (first, again, back, back_again):
        print(line.strip().splitlines()[-1])


def restart(server: Server, **settings: Any) -> None:
    server.stop()
    server.env.update(settings)
    if "COLLECT_BLOB_FALLBACK" not in settings:
        server.env.pop("COLLECT_BLOB_FALLBACK", None)
    server.start()
