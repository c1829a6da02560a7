"""Against a real multi-worker `collect serve`: HTTP round trips and concurrent identical POSTs.

One server per database for the whole module (starting gunicorn costs about a second).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from collect.storage.db import db
from collect.storage.models import Submission, SubmissionDef
from tests.conftest import BACKENDS
from tests.live import Server
from tests.openrosa import samples
from tests.openrosa.collect_device import (
    CollectDevice,
    Instance,
    Reply,
    http_transport,
    multipart,
)
from tests.openrosa.conftest import stored
from tests.openrosa.live import Site, serving

THREADS = 8


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Site]]:
    folder = Path(tmp_path_factory.mktemp(f"live-{request.param}"))
    with serving(request, folder, "live", workers=3) as served:
        yield served


def _device(live: tuple[Server, Site]) -> CollectDevice:
    server, site = live
    return CollectDevice(site.server_url(server.url), http_transport())


def _at_once(count: int, work: Callable[[int], Reply]) -> list[Reply]:
    """Run `work` in `count` threads released together; return the replies in thread order."""
    barrier = threading.Barrier(count)
    replies: list[Reply | None] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            replies[i] = work(i)
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return [r for r in replies if r is not None]


def _post(device: CollectDevice, xml: bytes, files: list[tuple[str, bytes]]) -> Reply:
    body, content_type = multipart(Instance(xml), files, False)
    return device.request("POST", device.submission_url(), body, {"Content-Type": content_type})


def _count(site: Site, instance_id: str) -> tuple[int, int]:
    with site.app.app_context():
        submissions = db.session.scalar(
            select(func.count(Submission.id)).where(Submission.instance_id == instance_id)
        )
        versions = db.session.scalar(
            select(func.count(SubmissionDef.id)).where(
                SubmissionDef.submission_id.in_(
                    select(Submission.id).where(Submission.instance_id == instance_id)
                )
            )
        )
        db.session.remove()
    return submissions or 0, versions or 0


def _row(site: Site, instance_id: str) -> dict[str, Any]:
    [row] = [r for r in stored(site.app) if r["instance_id"] == instance_id]
    return row


def test_collect_round_trip_over_http(live: tuple[Server, Site]) -> None:
    device = _device(live)
    [listed] = device.form_list()
    assert listed.download_url.startswith(f"{live[0].url}/v1/key/")
    device.download(listed)
    instance_id = samples.new_id()
    photo = samples.jpeg(200_000, seed=11)
    xml = samples.household(photo="house.jpg", instance_id=instance_id)
    sent = device.send(Instance(xml, [("house.jpg", photo)]))
    assert sent.success, sent.last
    row = _row(live[1], instance_id)
    assert row["xml"] == xml
    assert row["attachments"] == {"house.jpg": samples.sha256(photo)}


def test_the_same_instance_from_many_threads_is_stored_once(live: tuple[Server, Site]) -> None:
    device = _device(live)
    instance_id = samples.new_id()
    photo = samples.jpeg(50_000, seed=12)
    xml = samples.household(photo="house.jpg", instance_id=instance_id)
    replies = _at_once(THREADS, lambda i: _post(device, xml, [("house.jpg", photo)]))
    assert [r.status for r in replies] == [201] * THREADS
    assert _count(live[1], instance_id) == (1, 1)
    assert _row(live[1], instance_id)["attachments"] == {"house.jpg": samples.sha256(photo)}


def test_parts_of_a_split_upload_arriving_at_once_are_all_counted(
    live: tuple[Server, Site],
) -> None:
    device = _device(live)
    instance_id = samples.new_id()
    names = [f"v{i}.jpg" for i in range(THREADS)]
    photos = {name: samples.jpeg(20_000, seed=100 + i) for i, name in enumerate(names)}
    xml = samples.household(
        visits=[("2026-01-01", name) for name in names], instance_id=instance_id
    )
    replies = _at_once(THREADS, lambda i: _post(device, xml, [(names[i], photos[names[i]])]))
    assert [r.status for r in replies] == [201] * THREADS
    row = _row(live[1], instance_id)
    assert (row["expected"], row["present"]) == (THREADS, THREADS)
    assert row["attachments"] == {n: samples.sha256(p) for n, p in photos.items()}


def test_competing_edits_one_wins_the_other_is_told_it_is_stale(
    live: tuple[Server, Site],
) -> None:
    device = _device(live)
    original = samples.new_id()
    assert device.send(Instance(samples.household(instance_id=original))).success
    edits = [samples.household(respondent=f"Edit {i}", deprecated_id=original) for i in range(4)]
    replies = _at_once(len(edits), lambda i: _post(device, edits[i], []))
    assert sorted(r.status for r in replies) == [201, 409, 409, 409]
    rows = [r for r in stored(live[1].app) if r["submission"] == original]
    assert len(rows) == 2
    assert [r["current"] for r in rows] == [False, True]


def test_chunked_transfer_encoding_is_accepted(live: tuple[Server, Site]) -> None:
    server, site = live
    device = _device(live)
    xml = samples.household()
    body, content_type = multipart(Instance(xml), [], False)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    path = f"/v1/key/{site.token}/projects/{site.project}/submission"
    chunks = (body[i : i + 1000] for i in range(0, len(body), 1000))
    conn.request(
        "POST", path, body=chunks, headers={"Content-Type": content_type}, encode_chunked=True
    )
    response = conn.getresponse()
    assert response.status == 201, response.read()
    conn.close()
    assert any(r["xml"] == xml for r in stored(site.app))
    assert device.form_list()


def test_hostile_posts_leave_the_server_up(live: tuple[Server, Site]) -> None:
    device = _device(live)
    bomb = (
        b'<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><d id="x">&b;</d>'
    )
    assert _post(device, bomb, []).status == 400
    huge = (
        b'<data id="household" version="1"><notes>' + b"a" * (50 * 1024 * 1024) + b"</notes></data>"
    )
    assert _post(device, huge, []).status == 413
    assert device.send(Instance(samples.household())).success


def test_phones_uploading_slowly_do_not_hold_up_the_others(live: tuple[Server, Site]) -> None:
    """More phones than workers, each in the middle of a slow upload, and the server still serves.

    On a poor network a photo can take minutes to arrive; a server that gives each upload a
    whole process would answer nobody else meanwhile.
    """
    server, site = live
    device = _device(live)
    uploads = []
    path = f"/v1/key/{site.token}/projects/{site.project}/submission"
    for _ in range(server.workers + 2):
        xml = samples.household(photo="house.jpg")
        body, content_type = multipart(Instance(xml), [("house.jpg", b"x" * 100_000)], False)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        conn.send(body[:1000])  # and the phone's network stalls
        uploads.append((conn, body, xml))
    started = time.monotonic()
    assert device.form_list()
    assert device.send(Instance(samples.household())).success
    assert time.monotonic() - started < 5
    for conn, body, _ in uploads:
        conn.send(body[1000:])
    for conn, _, _ in uploads:
        response = conn.getresponse()
        assert response.status == 201, response.read()
        conn.close()
    xmls = {r["xml"] for r in stored(site.app)}
    assert all(xml in xmls for _, _, xml in uploads)
