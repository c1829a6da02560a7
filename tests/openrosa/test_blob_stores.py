"""Files through HTTP on both blob stores: a directory and S3 (SeaweedFS), on both databases.

Phones send photos and a video as ODK Collect does; people download them through the API, the
CSV zip and the OpenRosa media route; the stores lose or alter bytes behind the server's back,
and `collect blobs check` finds it while every response still says clearly what happened.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from collect.storage import blobs
from collect.storage.db import db
from collect.storage.models import Blob
from tests.helpers import Api
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, Instance, flask_transport
from tests.openrosa.conftest import stored
from tests.pgcluster import _free_port
from tests.seaweed import S3Server
from tests.storage.conftest import STORES, on_store
from tests.storage.test_stores import corrupt, remove

MB = 1 << 20
PHOTO = samples.jpeg(300_000, seed=7)
VISIT = samples.jpeg(90_000, seed=8)
LOGO = b"\x89PNG\r\n\x1a\n" + os.urandom(4000)


@pytest.fixture(params=STORES)
def app_config(request: pytest.FixtureRequest, app_config: dict[str, Any]) -> dict[str, Any]:
    return on_store(request, app_config, request.param)


def attachments_url(project: int, form_id: str, instance_id: str) -> str:
    return f"/v1/projects/{project}/forms/{form_id}/submissions/{instance_id}/attachments"


def send_household(device: CollectDevice, *files: tuple[str, bytes]) -> str:
    instance_id = samples.new_id()
    xml = samples.household(
        photo=files[0][0],
        visits=[("2026-03-01", name) for name, _ in files[1:]],
        instance_id=instance_id,
    )
    sent = device.send(Instance(xml, list(files)))
    assert sent.success, sent.message
    return instance_id


def sha_of(app: Flask, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    with app.app_context():
        assert db.session.scalar(select(Blob.id).where(Blob.sha256 == sha)) is not None
    return sha


def test_photos_and_a_video_from_collect_are_stored_and_downloaded(
    app: Flask, household: str, phone: Any, admin: Api, project: int
) -> None:
    video = b"".join(hashlib.sha256(bytes([i % 256])).digest() * 1024 for i in range(400))
    assert len(video) > 12 * MB  # in parts on S3, in chunks on a directory
    device: CollectDevice = phone(household)
    instance_id = send_household(device, ("house.jpg", PHOTO), ("visit.mp4", video))

    url = attachments_url(project, household, instance_id)
    listed = admin.get(url)
    assert listed.status_code == 200
    assert listed.get_json() == [
        {"name": "house.jpg", "exists": True},
        {"name": "visit.mp4", "exists": True},
    ]
    for name, data in (("house.jpg", PHOTO), ("visit.mp4", video)):
        got = admin.get(f"{url}/{name}")
        assert got.status_code == 200
        assert got.is_streamed
        assert got.headers["Content-Length"] == str(len(data))
        assert hashlib.sha256(got.get_data()).digest() == hashlib.sha256(data).digest()
    with app.app_context():
        store = blobs.store()
        assert store.kind == app.config["BLOB_STORE"][:3].rstrip(":")
        assert dict(store.inventory())[sha_of(app, video)] == len(video)


def test_form_media_comes_from_the_store(publish_xml: Any, phone: Any) -> None:
    form_id = publish_xml(samples.xform(samples.MEDIA_MD), {"logo.png": LOGO})
    device: CollectDevice = phone(form_id)
    [listed] = device.form_list()
    assert device.download(listed).media == {"logo.png": LOGO}  # md5 checked as Collect does


def test_a_lost_file_is_a_clear_404_and_the_zip_lists_it(
    app: Flask, household: str, phone: Any, admin: Api, project: int
) -> None:
    device: CollectDevice = phone(household)
    instance_id = send_household(device, ("house.jpg", PHOTO), ("visit1.jpg", VISIT))
    with app.app_context():
        remove(app, sha_of(app, VISIT))

    url = attachments_url(project, household, instance_id)
    assert admin.get(url).get_json() == [
        {"name": "house.jpg", "exists": True},
        {"name": "visit1.jpg", "exists": False},
    ]
    lost = admin.get(f"{url}/visit1.jpg")
    assert lost.status_code == 404
    assert "collect blobs check" in lost.get_json()["message"]
    assert admin.get(f"{url}/house.jpg").get_data() == PHOTO

    export = admin.get(f"/v1/projects/{project}/forms/{household}/submissions.csv.zip")
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(export.get_data())) as archive:
        assert archive.testzip() is None  # whole: it did not stop at the lost file
        assert archive.read("media/house.jpg") == PHOTO
        assert "media/visit1.jpg" not in archive.namelist()
        note = archive.read("media/missing-files.txt").decode()
        assert "visit1.jpg" in note and "collect blobs check" in note


def test_a_lost_media_file_is_an_openrosa_404(
    app: Flask, publish_xml: Any, phone: Any, project: int
) -> None:
    form_id = publish_xml(samples.xform(samples.MEDIA_MD), {"logo.png": LOGO})
    with app.app_context():
        remove(app, sha_of(app, LOGO))
    device: CollectDevice = phone(form_id)
    reply = device.request("GET", f"{device.server_url}/forms/{form_id}/attachments/logo.png")
    assert reply.status == 404
    assert b"collect blobs check" in reply.body
    assert reply.headers["x-openrosa-version"] == "1.0"


def test_blobs_check_reports_lost_and_altered_files_and_who_uses_them(
    app: Flask, app_config: dict[str, Any], household: str, phone: Any, request: Any
) -> None:
    device: CollectDevice = phone(household)
    lost_in = send_household(device, ("house.jpg", PHOTO), ("visit1.jpg", VISIT))
    intact = samples.jpeg(50_000, seed=9)
    send_household(device, ("other.jpg", intact))
    altered = samples.jpeg(60_000, seed=10)
    altered_in = send_household(device, ("altered.jpg", altered))
    env = cli_environment(request, app_config)

    clean = run_collect(env, "blobs", "check")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "4 blobs checked: 4 intact, 0 missing, 0 corrupt." in clean.stdout

    with app.app_context():
        remove(app, sha_of(app, VISIT))
        corrupt(app, sha_of(app, altered))
    found = run_collect(env, "blobs", "check")
    assert found.returncode == 1
    out = found.stdout
    assert "MISSING blob" in out and hashlib.sha256(VISIT).hexdigest() in out
    assert f"used by form '{household}' submission {lost_in} file 'visit1.jpg'" in out
    assert "CORRUPT blob" in out and hashlib.sha256(altered).hexdigest() in out
    assert f"used by form '{household}' submission {altered_in} file 'altered.jpg'" in out
    assert "4 blobs checked: 2 intact, 1 missing, 1 corrupt." in out

    quick = run_collect(env, "blobs", "check", "--quick")  # sizes only: the flip goes unseen
    assert quick.returncode == 1
    assert "4 blobs checked: 3 intact, 1 missing, 0 corrupt." in quick.stdout


def test_downloads_may_redirect_to_a_short_lived_s3_url(
    app_config: dict[str, Any], household: str, phone: Any, admin: Api, project: int
) -> None:
    if app_config["BLOB_STORE"] == "dir":
        pytest.skip("only S3 signs URLs")
    device: CollectDevice = phone(household)
    instance_id = send_household(device, ("house.jpg", PHOTO))
    url = f"{attachments_url(project, household, instance_id)}/house.jpg"
    assert admin.get(url).get_data() == PHOTO  # streamed through by default
    app = admin.client.application
    app.config["BLOB_S3_REDIRECT_SECONDS"] = 60
    app.extensions.pop("collect.blobs")  # the store is made again with the new setting

    moved = admin.get(url)
    assert moved.status_code == 302
    assert moved.headers["Cache-Control"] == "no-store"
    location = moved.headers["Location"]
    assert location.startswith(app_config["BLOB_S3_ENDPOINT_URL"])
    assert "X-Amz-Expires=60" in location
    with urllib.request.urlopen(location, timeout=10) as answer:
        assert answer.read() == PHOTO
        assert answer.headers["Content-Disposition"] == "attachment; filename*=UTF-8''house.jpg"
        assert answer.headers["Content-Type"] == "image/jpeg"


def test_a_submission_while_s3_is_unreachable_is_a_503_and_stored_once_later(
    app: Flask,
    app_config: dict[str, Any],
    variant: Any,
    household: str,
    phone: Any,
    client: Any,
) -> None:
    if app_config["BLOB_STORE"] == "dir":
        pytest.skip("the directory store has no server to lose")
    device: CollectDevice = phone(household)
    instance_id = samples.new_id()
    instance = Instance(
        samples.household(photo="house.jpg", instance_id=instance_id), [("house.jpg", PHOTO)]
    )
    cut_off = variant(BLOB_S3_ENDPOINT_URL=f"http://127.0.0.1:{_free_port()}")
    offline = CollectDevice(device.server_url, flask_transport(cut_off.test_client()))
    refused = offline.send(instance)
    assert not refused.success
    assert refused.last.status == 503
    assert "Try again in a few minutes" in (refused.message or "")
    assert stored(app) == []  # no row without its bytes

    assert device.send(instance).success  # S3 is back: Collect sends the form again
    [row] = stored(app)
    assert row["attachments"] == {"house.jpg": hashlib.sha256(PHOTO).hexdigest()}
    with app.app_context():
        assert blobs.store().exists(hashlib.sha256(PHOTO).hexdigest())


def cli_environment(request: pytest.FixtureRequest, config: dict[str, Any]) -> dict[str, str]:
    """The environment an operator runs `collect` with for this test's database and store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLLECT_", "AWS_"))}
    env["COLLECT_DATA_DIR"] = config["DATA_DIR"]
    env["COLLECT_DATABASE_URL"] = config["SQLALCHEMY_DATABASE_URI"]
    env["COLLECT_BLOB_STORE"] = config["BLOB_STORE"]
    if config["BLOB_STORE"].startswith("s3://"):
        server: S3Server = request.getfixturevalue("s3_server")
        env.update(server.environment())
    return env


def run_collect(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collect.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
