"""Submissions through the JSON API, in ODK Central's shapes (what pyodk and ruODK read)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import make_user
from tests.helpers import Api
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, Instance

PHOTO = samples.jpeg(3000, seed=3)
SUBMISSION_KEYS = {
    "instanceId",
    "submitterId",
    "deviceId",
    "userAgent",
    "reviewState",
    "createdAt",
    "updatedAt",
    "deletedAt",
    "currentVersion",
}
VERSION_KEYS = {
    "instanceId",
    "instanceName",
    "submitterId",
    "deviceId",
    "userAgent",
    "createdAt",
    "current",
}


@pytest.fixture
def sent(household: str, phone: Any) -> tuple[CollectDevice, list[str]]:
    """Three household submissions from one phone, oldest first; returns their instanceIDs."""
    device: CollectDevice = phone(household)
    ids = []
    for i, name in enumerate(["Amina", "Bilal", "Chen"]):
        instance_id = samples.new_id()
        xml = samples.household(respondent=name, photo=f"p{i}.jpg", instance_id=instance_id)
        assert device.send(Instance(xml, [(f"p{i}.jpg", PHOTO)])).success
        ids.append(instance_id)
    return device, ids


def test_list_in_centrals_shape(
    admin: Api, project: int, household: str, sent: tuple[CollectDevice, list[str]]
) -> None:
    device, ids = sent
    response = admin.get(f"/v1/projects/{project}/forms/{household}/submissions")
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    body = response.get_json()
    assert [s["instanceId"] for s in body] == ids[::-1]  # newest first
    app_user = admin.get(f"/v1/projects/{project}/app-users").get_json()[0]
    for item in body:
        assert set(item) == SUBMISSION_KEYS
        assert set(item["currentVersion"]) >= VERSION_KEYS
        assert item["submitterId"] == app_user["id"]
        assert item["deviceId"] == device.device_id
        assert item["userAgent"] == device.user_agent
        assert item["reviewState"] is None
        assert item["createdAt"].endswith("Z")
        assert item["updatedAt"] is None
        assert item["deletedAt"] is None
        assert item["currentVersion"]["current"] is True
    assert body[0]["currentVersion"]["instanceName"] == "HH Chen"


def test_paging_and_extended_metadata(
    admin: Api, project: int, household: str, sent: tuple[CollectDevice, list[str]]
) -> None:
    _, ids = sent
    base = f"/v1/projects/{project}/forms/{household}/submissions"
    page = admin.get(f"{base}?$top=1&$skip=1")
    assert page.headers["X-Total-Count"] == "3"
    assert [s["instanceId"] for s in page.get_json()] == [ids[1]]
    assert admin.get(f"{base}?$top=abc").status_code == 400
    extended = admin.get(base, headers={"X-Extended-Metadata": "true"}).get_json()
    assert extended[0]["submitter"]["displayName"] == "Enumerator 1"
    assert extended[0]["submitter"]["type"] == "field_key"
    assert extended[0]["currentVersion"]["submitter"]["displayName"] == "Enumerator 1"


def test_one_submission_its_xml_versions_and_files(
    admin: Api, app: Flask, project: int, household: str, sent: tuple[CollectDevice, list[str]]
) -> None:
    _device, ids = sent
    base = f"/v1/projects/{project}/forms/{household}/submissions/{ids[0]}"
    one = admin.get(base).get_json()
    assert set(one) == SUBMISSION_KEYS
    assert one["instanceId"] == ids[0]
    xml = admin.get(f"{base}.xml")
    assert xml.status_code == 200
    assert xml.data.startswith(b"<?xml version='1.0' encoding='UTF-8' ?><data id=\"household\"")
    assert f"<instanceID>{ids[0]}</instanceID>".encode() in xml.data
    [version] = admin.get(f"{base}/versions").get_json()
    assert set(version) >= VERSION_KEYS
    assert admin.get(f"{base}/attachments").get_json() == [{"name": "p0.jpg", "exists": True}]
    photo = admin.get(f"{base}/attachments/p0.jpg")
    assert photo.status_code == 200
    assert photo.data == PHOTO
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert admin.get(f"{base}/attachments/nope.jpg").status_code == 404
    missing = admin.get(f"/v1/projects/{project}/forms/{household}/submissions/uuid:nope")
    assert missing.status_code == 404
    assert missing.get_json()["code"] == 404.1


def test_review_with_a_comment(
    admin: Api, project: int, household: str, sent: tuple[CollectDevice, list[str]]
) -> None:
    _, ids = sent
    base = f"/v1/projects/{project}/forms/{household}/submissions/{ids[0]}"
    reviewed = admin.patch(
        base, json={"reviewState": "hasIssues", "comment": "The age looks wrong."}
    )
    assert reviewed.status_code == 200, reviewed.get_json()
    assert reviewed.get_json()["reviewState"] == "hasIssues"
    assert reviewed.get_json()["updatedAt"] is not None
    admin.post(f"{base}/comments", json={"body": "Called the enumerator."})
    comments = admin.get(f"{base}/comments").get_json()
    assert [c["body"] for c in comments] == ["The age looks wrong.", "Called the enumerator."]
    assert all(set(c) == {"body", "actorId", "createdAt"} for c in comments)
    for state in ["approved", "rejected", "edited", None]:
        changed = admin.patch(base, json={"reviewState": state})
        assert changed.status_code == 200
        assert changed.get_json()["reviewState"] == state
    bad = admin.patch(base, json={"reviewState": "great"})
    assert bad.status_code == 400
    assert "reviewState" in bad.get_json()["details"]
    assert admin.patch(base, json={}).status_code == 400


def test_who_may_read_and_review(
    app: Flask,
    client: FlaskClient,
    admin: Api,
    project: int,
    household: str,
    sent: tuple[CollectDevice, list[str]],
) -> None:
    _, ids = sent
    viewer_id, viewer = make_user(app, client, "viewer@example.org")
    admin.post(f"/v1/projects/{project}/assignments/viewer/{viewer_id}")
    _, stranger = make_user(app, client, "stranger@example.org")
    base = f"/v1/projects/{project}/forms/{household}/submissions"
    assert viewer.get(base).status_code == 200
    assert viewer.get(f"{base}/{ids[0]}.xml").status_code == 200  # no sensitive questions
    assert viewer.patch(f"{base}/{ids[0]}", json={"reviewState": "approved"}).status_code == 403
    assert stranger.get(base).status_code == 404
    assert client.get(base).status_code == 401


def test_raw_data_of_forms_with_sensitive_questions_needs_the_right_to_see_it(
    app: Flask, client: FlaskClient, admin: Api, project: int, publish: Any, phone: Any
) -> None:
    form_id = publish("beneficiary_feedback")  # marks name, phone, photo and location sensitive
    device: CollectDevice = phone(form_id)
    instance_id = samples.new_id()
    xml = samples.instance(
        form_id, "2026112801", [("phone", "+41 79 000 00 00")], instance_id=instance_id
    )
    assert device.send(Instance(xml)).success
    viewer_id, viewer = make_user(app, client, "viewer@example.org")
    admin.post(f"/v1/projects/{project}/assignments/viewer/{viewer_id}")
    base = f"/v1/projects/{project}/forms/{form_id}/submissions/{instance_id}"
    assert viewer.get(base).status_code == 200
    assert viewer.get(f"{base}.xml").status_code == 403
    assert admin.get(f"{base}.xml").data == xml


def test_an_app_user_token_cannot_read_submissions(
    client: FlaskClient, project: int, household: str, app_user: Any
) -> None:
    token = app_user(household)["token"]
    response = client.get(
        f"/v1/projects/{project}/forms/{household}/submissions",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in (401, 403)
