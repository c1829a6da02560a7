"""A server killed (SIGKILL, master and workers) while a phone uploads stores nothing half-way.

ODK Collect keeps an instance until it sees 201, so after a crash it sends the whole instance
again; that retry must succeed and be stored once, with every file intact.
"""

from __future__ import annotations

import fcntl
import hashlib
import socket
import struct
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from collect.storage import blobs
from collect.storage.db import db
from collect.storage.models import Blob, Submission, SubmissionDef
from tests.conftest import BACKENDS
from tests.live import Server
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, Instance, http_transport, multipart
from tests.openrosa.live import Site, serving

MB = 1024 * 1024


@pytest.fixture(scope="module", params=BACKENDS)
def crashable(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Site]]:
    """One server per database for the module; each test kills it and starts it again."""
    tmp_path = Path(tmp_path_factory.mktemp(f"crash-{request.param}"))
    with serving(request, tmp_path, "crash", workers=2) as served:
        yield served


def _consistent(site: Site) -> list[str]:
    """Instance ids stored; asserts every stored row is whole and every file is on disk."""
    with site.app.app_context():
        for version in db.session.scalars(select(SubmissionDef)):
            assert version.submission is not None
            assert version.xml and hashlib.sha256(version.xml).hexdigest() == version.xml_sha256
            present = 0
            for attachment in version.attachments:
                if attachment.blob is not None:
                    present += 1
                    data = blobs.read(attachment.blob)
                    assert hashlib.sha256(data).hexdigest() == attachment.blob.sha256
            assert present == version.attachments_present
        for blob in db.session.scalars(select(Blob)):
            assert blobs.path_of(blob.sha256).exists()
        ids = list(db.session.scalars(select(Submission.instance_id)))
        db.session.remove()
    return ids


def _start_upload(server: Server, site: Site, body: bytes, content_type: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = (
        f"POST /v1/key/{site.token}/projects/{site.project}/submission HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nX-OpenRosa-Version: 1.0\r\n\r\n"
    ).encode()
    sock.sendall(head)
    return sock


def _wait_taken(sock: socket.socket, timeout: float = 30) -> None:
    """Wait until the server has taken every byte sent so far (Linux: SIOCOUTQ is 0).

    Bytes stay unacknowledged in our send queue until the server's receive buffer has room,
    which for a body this size means the worker has been reading it.
    """
    deadline = time.monotonic() + timeout
    while _unsent(sock) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _unsent(sock) == 0, "the server stopped reading the upload"


def _unsent(sock: socket.socket) -> int:
    queued = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return int(struct.unpack("i", queued)[0])


def test_killed_in_the_middle_of_a_large_upload(crashable: tuple[Server, Site]) -> None:
    server, site = crashable
    instance_id = samples.new_id()
    photo = samples.jpeg(30 * MB, seed=21)
    instance = Instance(
        samples.household(photo="house.jpg", instance_id=instance_id), [("house.jpg", photo)]
    )
    body, content_type = multipart(instance, instance.files, False)
    sock = _start_upload(server, site, body, content_type)
    sock.sendall(body[: len(body) // 2])
    _wait_taken(sock)  # the worker is reading the body: half of it has left this socket
    server.kill()
    sock.close()
    assert instance_id not in _consistent(site)

    server.start()
    sent = CollectDevice(site.server_url(server.url), http_transport()).send(instance)
    assert sent.success
    assert _consistent(site).count(instance_id) == 1


def test_killed_while_it_writes_the_files(crashable: tuple[Server, Site]) -> None:
    server, site = crashable
    instance_id = samples.new_id()
    photos = [(f"p{i}.jpg", samples.jpeg(4 * MB, seed=30 + i)) for i in range(3)]
    xml = samples.household(
        photo="p0.jpg", visits=[("", "p1.jpg"), ("", "p2.jpg")], instance_id=instance_id
    )
    instance = Instance(xml, photos)
    body, content_type = multipart(instance, photos, False)
    first_file = blob_path(site, samples.sha256(photos[0][1]))
    sock = _start_upload(server, site, body, content_type)
    sock.sendall(body)
    deadline = time.monotonic() + 30
    while not first_file.exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    server.kill()  # the first file is on disk; the others and the rows are still to come
    sock.close()
    assert first_file.exists()
    assert _consistent(site).count(instance_id) in (0, 1)

    server.start()
    sent = CollectDevice(site.server_url(server.url), http_transport()).send(instance)
    assert sent.success
    assert sent.message == "full submission upload was successful!"
    assert _consistent(site).count(instance_id) == 1


def blob_path(site: Site, sha256: str) -> Path:
    with site.app.app_context():
        return blobs.path_of(sha256)
