"""Encrypted forms: the envelope and the .enc files are stored exactly as sent (§6.5)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from flask import Flask

from tests.helpers import Api
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, Instance, flask_transport
from tests.openrosa.conftest import stored


def test_encrypted_submission_is_stored_untouched_and_complete_when_all_files_arrived(
    variant: Any, publish_xml: Any, app_user: Any, project: int, admin: Api
) -> None:
    form_id = publish_xml(samples.xform(samples.ENCRYPTED_MD))
    small = variant(MAX_SUBMISSION_BYTES=6000)
    token = app_user(form_id)["token"]
    device = CollectDevice(
        f"http://localhost/v1/key/{token}/projects/{project}",
        flask_transport(small.test_client()),
    )
    [listed] = device.form_list()
    assert b"base64RsaPublicKey" in device.download(listed).xml
    instance_id = samples.new_id()
    envelope = samples.encrypted_envelope(instance_id, ["photo.jpg.enc"])
    files = [("photo.jpg.enc", os.urandom(4000)), ("submission.xml.enc", os.urandom(2500))]
    sent = device.send(Instance(envelope, files, xml_name="submission.xml"))

    assert sent.success
    assert [incomplete for _, _, incomplete in sent.posts] == [True, False]
    assert sent.posts[0][0].message == "partial submission upload was successful!"
    assert sent.message == "full submission upload was successful!"
    [row] = stored(small)
    assert row["xml"] == envelope
    assert row["encrypted"] is True
    assert row["data"] == {}
    assert row["attachments"] == {name: hashlib.sha256(data).hexdigest() for name, data in files}
    base = f"/v1/projects/{project}/forms/{form_id}/submissions/{instance_id}"
    assert admin.get(f"{base}/attachments/photo.jpg.enc").data == files[0][1]
    assert admin.get(base).get_json()["currentVersion"]["encrypted"] is True


def test_encrypted_submission_missing_a_file_is_incomplete(
    app: Flask, publish_xml: Any, phone: Any
) -> None:
    form_id = publish_xml(samples.xform(samples.ENCRYPTED_MD))
    device: CollectDevice = phone(form_id)
    envelope = samples.encrypted_envelope(samples.new_id(), ["photo.jpg.enc"])
    sent = device.send(Instance(envelope, [("submission.xml.enc", b"sealed")]))
    assert sent.message == "partial submission upload was successful!"
    [row] = stored(app)
    assert (row["expected"], row["present"]) == (2, 1)


def test_encrypted_submission_without_instance_id_is_refused(
    app: Flask, publish_xml: Any, phone: Any
) -> None:
    form_id = publish_xml(samples.xform(samples.ENCRYPTED_MD))
    device: CollectDevice = phone(form_id)
    envelope = samples.encrypted_envelope("", [])
    sent = device.send(Instance(envelope, [("submission.xml.enc", b"sealed")]))
    assert sent.last.status == 400
    assert "instanceID" in (sent.message or "")
    assert stored(app) == []
