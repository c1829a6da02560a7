"""Edits: a finalised form edited on the phone comes back with meta/deprecatedID (§6.4)."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask

from tests.helpers import Api
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, Instance
from tests.openrosa.conftest import stored

PHOTO = samples.jpeg(3000, seed=1)
NEW_PHOTO = samples.jpeg(3000, seed=9)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _original(device: CollectDevice) -> tuple[str, bytes]:
    instance_id = samples.new_id()
    xml = samples.household(photo="house.jpg", instance_id=instance_id)
    assert device.send(Instance(xml, [("house.jpg", PHOTO)])).success
    return instance_id, xml


def test_an_edit_is_a_new_version_and_keeps_the_files_not_resent(
    app: Flask, household: str, phone: Any, admin: Api, project: int
) -> None:
    device: CollectDevice = phone(household)
    original, _ = _original(device)
    edit_id = samples.new_id()
    edit = samples.household(
        respondent="Amina B.", photo="house.jpg", instance_id=edit_id, deprecated_id=original
    )
    sent = device.send(Instance(edit))  # Collect re-sends only changed files
    assert sent.success
    assert sent.message == "full submission upload was successful!"

    first, second = stored(app)
    assert (first["current"], second["current"]) == (False, True)
    assert second["submission"] == original  # the logical id stays the first instanceID
    assert second["deprecated_id"] == original
    assert second["attachments"] == {"house.jpg": sha(PHOTO)}
    assert second["review_state"] == "edited"
    base = f"/v1/projects/{project}/forms/{household}/submissions/{original}"
    assert admin.get(f"{base}.xml").data == edit
    versions = admin.get(f"{base}/versions").get_json()
    assert [v["instanceId"] for v in versions] == [edit_id, original]
    assert [v["current"] for v in versions] == [True, False]


def test_a_resent_file_replaces_it_in_the_new_version_only(
    app: Flask, household: str, phone: Any
) -> None:
    device: CollectDevice = phone(household)
    original, _ = _original(device)
    edit = samples.household(photo="house.jpg", deprecated_id=original)
    assert device.send(Instance(edit, [("house.jpg", NEW_PHOTO)])).success
    first, second = stored(app)
    assert first["attachments"] == {"house.jpg": sha(PHOTO)}
    assert second["attachments"] == {"house.jpg": sha(NEW_PHOTO)}


def test_an_edit_of_an_edit(app: Flask, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    original, _ = _original(device)
    second_id = samples.new_id()
    for deprecated, instance_id in [(original, second_id), (second_id, samples.new_id())]:
        edit = samples.household(
            photo="house.jpg", instance_id=instance_id, deprecated_id=deprecated
        )
        assert device.send(Instance(edit)).success
    rows = stored(app)
    assert [r["current"] for r in rows] == [False, False, True]
    assert {r["submission"] for r in rows} == {original}
    assert rows[2]["attachments"] == {"house.jpg": sha(PHOTO)}


def test_a_retried_edit_is_stored_once(app: Flask, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    original, _ = _original(device)
    edit = Instance(samples.household(photo="house.jpg", deprecated_id=original))
    assert device.send(edit).success
    again = device.send(edit)
    assert again.success
    assert again.last.status == 201
    assert len(stored(app)) == 2


def test_a_stale_edit_is_refused_with_a_message(app: Flask, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    other: CollectDevice = phone(household, name="Enumerator 2")
    original, _ = _original(device)
    assert device.send(Instance(samples.household(respondent="A", deprecated_id=original))).success
    stale = other.send(Instance(samples.household(respondent="B", deprecated_id=original)))
    assert not stale.success
    assert stale.last.status == 409
    assert stale.last.nature == "error"
    assert "out of date" in (stale.message or "")
    assert [r["current"] for r in stored(app)] == [False, True]


def test_an_edit_of_an_unknown_submission_is_404(app: Flask, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    sent = device.send(Instance(samples.household(deprecated_id=samples.new_id())))
    assert sent.last.status == 404
    assert "not on the server" in (sent.message or "")
    assert stored(app) == []
