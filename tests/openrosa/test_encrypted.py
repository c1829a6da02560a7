"""Encrypted forms: the envelope and the .enc files are stored exactly as sent (§6.5)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from lxml import etree

from collect.domain.encryption import keys
from collect.domain.encryption.envelope import Envelope
from collect.domain.forms import xform
from tests.encryption.collect_crypto import CollectEncryptor
from tests.helpers import Api
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, Instance, flask_transport
from tests.openrosa.conftest import stored
from tests.openrosa.javarosa import JavaRosa


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


WITNESS_MD = """
| survey   |          |          |              |
|          | type     | name     | label        |
|          | text     | account  | What happened |
|          | image    | photo    | Photo        |
|          | image    | document | Document     |
| settings |          |          |              |
|          | form_id  | version  | public_key   |
|          | witness  | 3        | {public_key} |
"""


def test_what_collect_seals_for_the_served_key_arrives_whole_and_decrypts(
    variant: Any,
    publish_xml: Any,
    app_user: Any,
    project: int,
    admin: Api,
    javarosa: JavaRosa,
    collect_crypto: CollectEncryptor,
    tmp_path: Path,
) -> None:
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    form_id = publish_xml(samples.xform(WITNESS_MD, public_key=keys.public_key(own)))
    small = variant(MAX_SUBMISSION_BYTES=9000)  # the photos go in separate POSTs
    token = app_user(form_id)["token"]
    device = CollectDevice(
        f"http://localhost/v1/key/{token}/projects/{project}",
        flask_transport(small.test_client()),
    )
    [listed] = device.form_list()
    form = device.download(listed)
    # The phone encrypts for the key in the form it downloaded, as Collect does.
    served = etree.fromstring(form.xml).find(f".//{{{xform.XFORMS_NS}}}submission")
    assert served is not None
    public_key = served.get("base64RsaPublicKey") or ""
    answers = {"account": "Ils sont venus la nuit — نحن بخير", "photo": "a.jpg"}
    xml = javarosa.fill(form.xml, {**answers, "document": "b.jpg"})
    instance_id = xform.submission_meta(xform.parse_xml(xml, what="instance")).instance_id
    media = [("a.jpg", samples.jpeg(6000, seed=1)), ("b.jpg", samples.jpeg(6000, seed=2))]
    sealed = collect_crypto.seal(
        tmp_path,
        public_key=public_key,
        form_id=form_id,
        version="3",
        instance_id=instance_id,
        xml=xml,
        media=media,
    )
    files = sealed.files()
    sent = device.send(Instance(sealed.manifest, list(files.items()), xml_name="submission.xml"))

    assert sent.success
    assert [incomplete for _, _, incomplete in sent.posts] == [True, False]
    [row] = stored(small)
    assert row["xml"] == sealed.manifest
    assert (row["expected"], row["present"]) == (3, 3)
    base = f"/v1/projects/{project}/forms/{form_id}/submissions/{instance_id}"
    envelope = Envelope.open(row["xml"], own)
    assert envelope.read(lambda name: admin.get(f"{base}/attachments/{name}").data) == xml
    for name, content in media:
        download = admin.get(f"{base}/attachments/{name}.enc").data
        assert b"".join(envelope.decrypt(f"{name}.enc", download)) == content
    assert "نحن بخير".encode() not in row["xml"] + b"".join(files.values())
