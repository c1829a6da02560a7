"""Sending submissions as ODK Collect does: pre-flight, multipart POSTs, retries and splits."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from collect.domain.forms import xform
from collect.storage.db import db
from collect.storage.models import Blob
from tests.helpers import Api
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, Instance, flask_transport
from tests.openrosa.conftest import stored

PHOTO = samples.jpeg(3000, seed=1)
VISIT = samples.jpeg(2500, seed=2)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_preflight_answers_204_with_the_size_limit(household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    for method in ("HEAD", "GET"):
        reply = device.request(method, device.submission_url())
        assert reply.status == 204
        assert reply.headers["x-openrosa-accept-content-length"] == str(100 * 1024 * 1024)
        assert reply.headers["x-openrosa-version"] == "1.0"
        assert reply.body == b""


def test_collect_sends_a_submission_with_photos(
    app: Flask, household: str, phone: Any, admin: Api, project: int
) -> None:
    device: CollectDevice = phone(household)
    xml = samples.household(
        photo="house.jpg", visits=[("2026-03-01", "visit1.jpg"), ("2026-03-08", "")]
    )
    sent = device.send(Instance(xml, [("house.jpg", PHOTO), ("visit1.jpg", VISIT)]))

    assert sent.success
    assert [reply.status for reply, _, _ in sent.posts] == [201]
    assert sent.message == "full submission upload was successful!"
    assert sent.last.nature == "submit_success"
    [row] = stored(app)
    assert row["xml"] == xml  # byte for byte
    assert row["instance_name"] == "HH Amina"
    assert row["device_id"] == device.device_id
    assert row["user_agent"] == device.user_agent
    app_user_id = admin.get(f"/v1/projects/{project}/app-users").get_json()[0]["id"]
    assert row["submitter_id"] == app_user_id
    assert row["attachments"] == {"house.jpg": sha(PHOTO), "visit1.jpg": sha(VISIT)}
    assert (row["expected"], row["present"]) == (2, 2)
    # The derived values are exactly what xform.submission_values makes of the XML.
    root = xform.parse_xml(xml, what="submission")
    fields = xform.read_xform(samples.household_xml()).fields
    assert row["data"] == xform.submission_values(root, fields)
    assert row["data"]["/respondent"] == "Amina"
    assert row["data"]["/visit"] == [
        {"/visit/visit_date": "2026-03-01", "/visit/visit_photo": "visit1.jpg"},
        {"/visit/visit_date": "2026-03-08", "/visit/visit_photo": ""},
    ]


def test_a_retry_after_a_lost_answer_is_stored_once(app: Flask, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    instance = Instance(samples.household(photo="house.jpg"), [("house.jpg", PHOTO)])
    first = device.send(instance)
    again = device.send(instance)
    assert first.success and again.success
    assert again.last.status == 201
    assert len(stored(app)) == 1


def test_same_instance_id_with_other_xml_is_refused_and_the_first_kept(
    app: Flask, household: str, phone: Any
) -> None:
    device: CollectDevice = phone(household)
    instance_id = samples.new_id()
    first = samples.household(respondent="Amina", instance_id=instance_id)
    other = samples.household(respondent="Someone else", instance_id=instance_id)
    assert device.send(Instance(first)).success
    sent = device.send(Instance(other))
    assert not sent.success
    assert sent.last.status == 409
    assert sent.last.nature == "error"
    assert "different form with the same instanceID" in (sent.message or "")
    [row] = stored(app)
    assert row["xml"] == first


def test_large_submissions_are_split_as_collect_splits_them(
    variant: Any, household: str, project: int, app_user: Any
) -> None:
    small = variant(MAX_SUBMISSION_BYTES=8000)
    token = app_user(household)["token"]
    device = CollectDevice(
        f"http://localhost/v1/key/{token}/projects/{project}",
        flask_transport(small.test_client()),
    )
    photos = [(f"p{i}.jpg", samples.jpeg(3000, seed=i)) for i in range(4)]
    xml = samples.household(
        photo="p0.jpg", visits=[("2026-01-01", "p1.jpg"), ("2026-01-02", "p2.jpg"), ("", "p3.jpg")]
    )
    sent = device.send(Instance(xml, photos))

    assert sent.success
    assert sent.limit == 8000
    assert [(names, incomplete) for _, names, incomplete in sent.posts] == [
        (["p0.jpg", "p1.jpg"], True),
        (["p2.jpg", "p3.jpg"], False),
    ]
    assert [reply.message for reply, _, _ in sent.posts] == [
        "partial submission upload was successful!",
        "full submission upload was successful!",
    ]
    [row] = stored(small)
    assert row["attachments"] == {name: sha(data) for name, data in photos}
    assert (row["expected"], row["present"]) == (4, 4)


def test_missing_files_are_tracked_and_added_by_a_later_post(
    app: Flask, household: str, phone: Any, admin: Api, project: int
) -> None:
    device: CollectDevice = phone(household)
    xml = samples.household(photo="house.jpg", visits=[("2026-01-01", "visit1.jpg")])
    first = device.send(Instance(xml, [("house.jpg", PHOTO)]))
    assert first.success
    assert first.message == "partial submission upload was successful!"
    [row] = stored(app)
    assert (row["expected"], row["present"]) == (2, 1)
    assert row["attachments"] == {"house.jpg": sha(PHOTO), "visit1.jpg": None}
    instance_id = row["instance_id"]
    listed = admin.get(
        f"/v1/projects/{project}/forms/{household}/submissions/{instance_id}/attachments"
    ).get_json()
    assert listed == [
        {"name": "house.jpg", "exists": True},
        {"name": "visit1.jpg", "exists": False},
    ]

    later = device.send(Instance(xml, [("house.jpg", PHOTO), ("visit1.jpg", VISIT)]))
    assert later.success
    assert later.message == "full submission upload was successful!"
    [row] = stored(app)
    assert (row["expected"], row["present"]) == (2, 2)
    assert row["attachments"] == {"house.jpg": sha(PHOTO), "visit1.jpg": sha(VISIT)}


def test_identical_photos_are_stored_once_and_listed_in_document_order(
    app: Flask, household: str, phone: Any, admin: Api, project: int
) -> None:
    device: CollectDevice = phone(household)
    visits = [("2026-01-01", "v1.jpg"), ("2026-01-02", "v2.jpg"), ("2026-01-03", "v3.jpg")]
    xml = samples.household(photo="house.jpg", visits=visits)
    files = [("house.jpg", PHOTO), ("v1.jpg", VISIT), ("v2.jpg", PHOTO), ("v3.jpg", VISIT)]
    assert device.send(Instance(xml, files)).success
    # A second household with the same photo: the bytes are stored already.
    again = samples.household(photo="house.jpg")
    assert device.send(Instance(again, [("house.jpg", PHOTO)])).success

    first, second = stored(app)
    assert first["attachments"] == {name: sha(data) for name, data in files}
    assert (first["expected"], first["present"]) == (4, 4)
    assert second["attachments"] == {"house.jpg": sha(PHOTO)}
    listed = admin.get(
        f"/v1/projects/{project}/forms/{household}/submissions/{first['instance_id']}/attachments"
    ).get_json()
    assert [a["name"] for a in listed] == ["house.jpg", "v1.jpg", "v2.jpg", "v3.jpg"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Blob.id))) == 2
        for name, data in files:
            response = admin.get(
                f"/v1/projects/{project}/forms/{household}/submissions/"
                f"{first['instance_id']}/attachments/{name}"
            )
            assert response.data == data


def test_a_retry_never_replaces_a_file_already_stored(
    app: Flask, household: str, phone: Any
) -> None:
    device: CollectDevice = phone(household)
    xml = samples.household(photo="house.jpg")
    assert device.send(Instance(xml, [("house.jpg", PHOTO)])).success
    assert device.send(Instance(xml, [("house.jpg", VISIT)])).success
    [row] = stored(app)
    assert row["attachments"] == {"house.jpg": sha(PHOTO)}


def test_files_the_xml_does_not_refer_to_are_ignored(
    app: Flask, household: str, phone: Any
) -> None:
    device: CollectDevice = phone(household)
    xml = samples.household(photo="house.jpg")
    sent = device.send(Instance(xml, [("house.jpg", PHOTO), ("stray.jpg", VISIT)]))
    assert sent.success
    [row] = stored(app)
    assert row["attachments"] == {"house.jpg": sha(PHOTO)}


def test_non_ascii_file_names(app: Flask, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    name = "maison_été_ঘর.jpg"
    xml = samples.household(respondent="Zoé", photo=name)
    assert device.send(Instance(xml, [(name, PHOTO)])).success
    [row] = stored(app)
    assert row["attachments"] == {name: sha(PHOTO)}
    assert row["instance_name"] == "HH Zoé"


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b.jpg", "..", "c:\\x.jpg", "x\tb.jpg"])
def test_file_names_that_could_escape_a_folder_are_refused(
    app: Flask, household: str, phone: Any, name: str
) -> None:
    device: CollectDevice = phone(household)
    sent = device.send(Instance(samples.household(photo=name), [(name, PHOTO)]))
    assert sent.last.status == 400
    assert "not an acceptable file name" in (sent.message or "")
    assert stored(app) == []


@pytest.mark.parametrize("name", ["../../etc/passwd", "photos/../../x.jpg", ".."])
def test_parts_named_to_escape_a_folder_are_refused(
    app: Flask, household: str, phone: Any, name: str
) -> None:
    device: CollectDevice = phone(household)
    sent = device.send(Instance(samples.household(photo="ok.jpg"), [(name, PHOTO)]))
    assert sent.last.status == 400
    assert stored(app) == []


def test_an_older_published_version_is_accepted_and_kept_with_it(
    app: Flask, household: str, phone: Any, new_version: Any
) -> None:
    new_version(household, samples.household_xml("2"))
    device: CollectDevice = phone(household)
    assert device.send(Instance(samples.household(version="1"))).success
    assert device.send(Instance(samples.household(version="2"))).success
    unknown = device.send(Instance(samples.household(version="3")))
    assert unknown.last.status == 404
    assert "no version '3'" in (unknown.message or "")
    first, second = stored(app)
    assert first["form_def_id"] != second["form_def_id"]


def test_form_states_and_assignments(
    app: Flask, admin: Api, project: int, household: str, publish: Any, phone: Any
) -> None:
    other = publish("training_registration")
    device: CollectDevice = phone(household)
    patch = f"/v1/projects/{project}/forms/{household}"
    admin.patch(patch, json={"state": "closing"})
    assert device.send(Instance(samples.household())).success  # closing still accepts
    admin.patch(patch, json={"state": "closed"})
    closed = device.send(Instance(samples.household()))
    assert closed.last.status == 409
    assert "no longer accepts submissions" in (closed.message or "")
    not_assigned = device.send(Instance(samples.instance(other, "2026112801", [])))
    assert not_assigned.last.status == 403
    assert "not assigned to this phone" in (not_assigned.message or "")
    unknown = device.send(Instance(samples.instance("nope", "1", [])))
    assert unknown.last.status == 404
    assert len(stored(app)) == 1


def test_web_forms_serialisation_gives_the_same_values(
    app: Flask, household: str, phone: Any
) -> None:
    device: CollectDevice = phone(household)
    visits = [("2026-03-01", "")]
    javarosa = samples.household(visits=visits, style="javarosa")
    webforms = samples.household(visits=visits, style="webforms")
    assert javarosa.startswith(b"<?xml version='1.0'")
    assert webforms.startswith(b'<data id="household" version="1">')
    assert device.send(Instance(javarosa)).success
    assert device.send(Instance(webforms)).success
    first, second = stored(app)
    del first["data"]["/meta/instanceID"], second["data"]["/meta/instanceID"]
    assert first["data"] == second["data"]
    assert second["xml"] == webforms


def test_the_xml_may_come_as_a_plain_form_field(app: Flask, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    xml = samples.household()
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="xml_submission_file"\r\n\r\n'
        ).encode()
        + xml
        + f"\r\n--{boundary}--\r\n".encode()
    )
    reply = device.request(
        "POST",
        device.submission_url(),
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert reply.status == 201
    assert stored(app)[0]["xml"] == xml
