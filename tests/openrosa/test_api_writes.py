"""Submissions written through the JSON API, as pyodk's `create`, `edit` and `upload` send them."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import make_user
from tests.helpers import Api
from tests.openrosa import samples
from tests.openrosa.conftest import stored

PHOTO = samples.jpeg(3000, seed=7)
XML = {"Content-Type": "application/xml"}


def _base(project: int, form: str) -> str:
    return f"/v1/projects/{project}/forms/{form}/submissions"


def test_create_edit_and_upload_a_file(
    app: Flask, admin: Api, project: int, household: str
) -> None:
    base = _base(project, household)
    first = samples.new_id()
    xml = samples.household(respondent="Amina", photo="house.jpg", instance_id=first)
    created = admin.post(f"{base}?deviceID=script:1", data=xml, headers=XML)
    assert created.status_code == 200, created.get_json()
    body = created.get_json()
    assert body["instanceId"] == first
    assert body["deviceId"] == "script:1"
    assert body["reviewState"] is None
    [row] = stored(app)
    assert row["xml"] == xml
    assert row["data"]["/respondent"] == "Amina"
    assert row["attachments"] == {"house.jpg": None}

    uploaded = admin.post(
        f"{base}/{first}/attachments/house.jpg", data=PHOTO, headers={"Content-Type": "image/jpeg"}
    )
    assert uploaded.status_code == 200, uploaded.get_json()
    assert uploaded.get_json() == {"success": True}
    assert admin.get(f"{base}/{first}/attachments/house.jpg").data == PHOTO
    assert (stored(app)[0]["expected"], stored(app)[0]["present"]) == (1, 1)

    second = samples.new_id()
    edited = samples.household(
        respondent="Amina B.", photo="house.jpg", instance_id=second, deprecated_id=first
    )
    answer = admin.put(f"{base}/{first}", data=edited, headers=XML)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["reviewState"] == "edited"
    old, new = stored(app)
    assert (old["current"], new["current"]) == (False, True)
    assert new["data"]["/respondent"] == "Amina B."
    assert new["attachments"] == {"house.jpg": samples.sha256(PHOTO)}  # carried over
    assert admin.get(f"{base}/{first}.xml").data == edited


@pytest.mark.parametrize(
    ("xml", "status", "text"),
    [
        (b"<data", 400, "not well-formed"),
        (samples.instance("other", "1", [("respondent", "A")]), 400, "to the form 'household'"),
        (samples.household(version="9"), 400, "no published version '9'"),
        (samples.household(deprecated_id="uuid:x"), 400, "send it with PUT"),
    ],
    ids=["malformed", "other-form", "unknown-version", "an-edit"],
)
def test_bad_creates_are_refused_and_nothing_stored(
    app: Flask, admin: Api, project: int, household: str, xml: bytes, status: int, text: str
) -> None:
    answer = admin.post(_base(project, household), data=xml, headers=XML)
    assert answer.status_code == status
    assert text in answer.get_json()["message"]
    assert stored(app) == []


def test_an_instance_id_already_stored_is_409(admin: Api, project: int, household: str) -> None:
    xml = samples.household()
    assert admin.post(_base(project, household), data=xml, headers=XML).status_code == 200
    again = admin.post(_base(project, household), data=xml, headers=XML)
    assert again.status_code == 409
    assert "already exists" in again.get_json()["message"]


def test_the_body_must_be_xml(admin: Api, project: int, household: str) -> None:
    answer = admin.post(_base(project, household), json={"xml": "<data/>"})
    assert answer.status_code == 400
    assert "application/xml" in answer.get_json()["message"]


def test_an_edit_must_name_the_current_version(
    app: Flask, admin: Api, project: int, household: str
) -> None:
    base = _base(project, household)
    first = samples.new_id()
    assert (
        admin.post(base, data=samples.household(instance_id=first), headers=XML).status_code == 200
    )
    stale = samples.household(respondent="X", deprecated_id="uuid:not-the-current")
    answer = admin.put(f"{base}/{first}", data=stale, headers=XML)
    assert answer.status_code == 409
    assert f"must be '{first}'" in answer.get_json()["message"]
    assert len(stored(app)) == 1
    assert admin.put(f"{base}/uuid:nobody", data=stale, headers=XML).status_code == 404


def test_a_file_the_submission_does_not_name_is_404(
    admin: Api, project: int, household: str
) -> None:
    base = _base(project, household)
    first = samples.new_id()
    xml = samples.household(photo="house.jpg", instance_id=first)
    assert admin.post(base, data=xml, headers=XML).status_code == 200
    answer = admin.post(f"{base}/{first}/attachments/other.jpg", data=PHOTO)
    assert answer.status_code == 404
    assert "house.jpg" in answer.get_json()["message"]


def test_viewers_may_not_write(
    app: Flask, client: FlaskClient, admin: Api, project: int, household: str
) -> None:
    viewer_id, viewer = make_user(app, client, "viewer@example.org")
    assert admin.post(f"/v1/projects/{project}/assignments/viewer/{viewer_id}").status_code == 200
    answer = viewer.post(_base(project, household), data=samples.household(), headers=XML)
    assert answer.status_code == 403
    assert stored(app) == []
