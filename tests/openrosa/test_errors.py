"""Errors on the OpenRosa routes: an <OpenRosaResponse> a field worker can read; nothing stored."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask

from collect.domain import submissions
from collect.storage import blobs
from collect.storage.db import db
from collect.storage.models import SubmissionAttachment
from collect.web.openrosa import FRAMING
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, Instance, flask_transport, multipart
from tests.openrosa.conftest import stored

MB = 1024 * 1024


def _post(device: CollectDevice, xml: bytes, files: list[tuple[str, bytes]] | None = None) -> Any:
    body, content_type = multipart(Instance(xml), files or [], False)
    return device.request("POST", device.submission_url(), body, {"Content-Type": content_type})


def _assert_error(reply: Any, status: int, text: str) -> None:
    assert reply.status == status
    assert reply.headers["content-type"] == "text/xml; charset=utf-8"
    assert reply.headers["x-openrosa-version"] == "1.0"
    assert reply.nature == "error"
    assert text in (reply.message or "")


@pytest.mark.parametrize(
    ("xml", "text"),
    [
        # ODK Central answers 201 to this one and keeps it.
        (b'<data id="household" version="1"><unclosed></data>', "not well-formed XML"),
        (b"", "not well-formed XML"),
        (b"\xff\xfe not xml", "not well-formed XML"),
        (b'<data version="1"><meta><instanceID>uuid:1</instanceID></meta></data>', "no id"),
        (b'<data id="household" version="1"><respondent>A</respondent></data>', "instanceID"),
        (
            samples.household(instance_id="uuid:" + "x" * 400),
            "longer than 300 characters",
        ),
    ],
)
def test_bad_submissions_are_400_and_stored_nowhere(
    app: Flask, household: str, phone: Any, xml: bytes, text: str
) -> None:
    device: CollectDevice = phone(household)
    _assert_error(_post(device, xml), 400, text)
    assert stored(app) == []


def test_a_post_without_the_xml_part_is_400(household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    body = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="photo.jpg"; filename="photo.jpg"\r\n\r\n'
        b"x\r\n--b--\r\n"
    )
    reply = device.request(
        "POST", device.submission_url(), body, {"Content-Type": "multipart/form-data; boundary=b"}
    )
    _assert_error(reply, 400, "xml_submission_file")
    raw = device.request(
        "POST", device.submission_url(), samples.household(), {"Content-Type": "text/xml"}
    )
    _assert_error(raw, 400, "xml_submission_file")


def _raw_post(device: CollectDevice, body: bytes, boundary: str = "b") -> Any:
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return device.request("POST", device.submission_url(), body, headers)


@pytest.mark.parametrize(
    "body",
    [
        # The closing boundary never came: the phone lost its connection mid-send.
        b'--b\r\nContent-Disposition: form-data; name="xml_submission_file"; filename="a.xml"\r\n'
        b"\r\n<data",
        # Bare LF line breaks in the part's headers.
        b'--b\nContent-Disposition: form-data; name="xml_submission_file"\n\n<data/>\n--b--\n',
        # A part without Content-Disposition.
        b"--b\r\nContent-Type: text/xml\r\n\r\n<data/>\r\n--b--\r\n",
    ],
    ids=["truncated", "bare-lf", "no-disposition"],
)
def test_a_body_that_is_not_multipart_form_data_is_400(
    app: Flask, household: str, phone: Any, body: bytes
) -> None:
    device: CollectDevice = phone(household)
    _assert_error(_raw_post(device, body), 400, "could not read what the phone sent")
    assert stored(app) == []
    assert device.send(Instance(samples.household())).success


def test_more_than_a_thousand_parts_is_400(app: Flask, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    part = b'--b\r\nContent-Disposition: form-data; name="f"; filename="f"\r\n\r\nx\r\n'
    _assert_error(_raw_post(device, part * 1001 + b"--b--\r\n"), 400, "could not read")
    assert stored(app) == []


def test_the_xml_may_come_url_encoded(app: Flask, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    xml = samples.household()
    body = urlencode({"xml_submission_file": xml.decode()}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    reply = device.request("POST", device.submission_url(), body, headers)
    assert reply.status == 201
    assert stored(app)[0]["xml"] == xml


def test_a_repeated_part_keeps_the_first(app: Flask, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    xml = samples.household(photo="house.jpg")
    body = (
        b'--b\r\nContent-Disposition: form-data; name="xml_submission_file"; filename="a.xml"\r\n'
        b"Content-Type: text/xml\r\n\r\n" + xml + b"\r\n"
        b'--b\r\nContent-Disposition: form-data; name="house.jpg"; filename="house.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\nfirst\r\n"
        b'--b\r\nContent-Disposition: form-data; name="house.jpg"; filename="house.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\nsecond\r\n--b--\r\n"
    )
    assert _raw_post(device, body).status == 201
    with app.app_context():
        attachment = db.session.scalars(db.select(SubmissionAttachment)).one()
        assert attachment.blob is not None
        assert blobs.read(attachment.blob) == b"first"


ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE data [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
<data id="household" version="1"><respondent>&f;</respondent>
<meta><instanceID>uuid:bomb</instanceID></meta></data>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<data id="household" version="1"><respondent>&x;</respondent>
<meta><instanceID>uuid:xxe</instanceID></meta></data>"""


@pytest.mark.parametrize("xml", [ENTITY_BOMB, EXTERNAL_ENTITY], ids=["bomb", "external"])
def test_entities_are_refused_quickly(app: Flask, household: str, phone: Any, xml: bytes) -> None:
    device: CollectDevice = phone(household)
    started = time.monotonic()
    reply = _post(device, xml)
    assert time.monotonic() - started < 2
    # lxml stops the bomb at its amplification limit; otherwise the DOCTYPE check refuses it.
    _assert_error(reply, 400, "The submission ")
    assert b"root:" not in reply.body
    assert stored(app) == []
    assert device.send(Instance(samples.household())).success  # and the server carries on


def _huge_text_node(size: int) -> bytes:
    head = b'<data id="household" version="1"><respondent>'
    tail = b"</respondent><meta><instanceID>uuid:huge</instanceID></meta></data>"
    return head + b"a" * size + tail


def test_a_50_mb_text_node_is_413_over_the_xml_limit(
    app: Flask, household: str, phone: Any
) -> None:
    device: CollectDevice = phone(household)
    started = time.monotonic()
    reply = _post(device, _huge_text_node(50 * MB))
    assert time.monotonic() - started < 10
    _assert_error(reply, 413, "form's XML is larger than the server accepts (10 MB)")
    assert stored(app) == []
    assert device.send(Instance(samples.household())).success


def test_a_50_mb_text_node_under_a_raised_xml_limit_is_refused_by_the_parser(
    variant: Any, household: str, project: int, app_user: Any
) -> None:
    generous = variant(MAX_XML_BYTES=64 * MB)
    token = app_user(household)["token"]
    device = CollectDevice(
        f"http://localhost/v1/key/{token}/projects/{project}",
        flask_transport(generous.test_client()),
    )
    started = time.monotonic()
    reply = _post(device, _huge_text_node(50 * MB))
    assert time.monotonic() - started < 10
    _assert_error(reply, 400, "has a value too large to accept")
    assert stored(generous) == []
    assert device.send(Instance(samples.household())).success


def test_framing_over_the_advertised_limit_is_accepted_but_more_is_413(
    variant: Any, household: str, project: int, app_user: Any
) -> None:
    small = variant(MAX_SUBMISSION_BYTES=20_000)
    token = app_user(household)["token"]
    device = CollectDevice(
        f"http://localhost/v1/key/{token}/projects/{project}",
        flask_transport(small.test_client()),
    )
    xml = samples.household(photo="house.jpg")
    photo = samples.jpeg(20_000 - len(xml))  # Collect counts files only: this fits exactly
    sent = device.send(Instance(xml, [("house.jpg", photo)]))
    assert sent.success
    assert len(sent.posts) == 1
    too_big = _post(
        device, samples.household(photo="x.jpg"), [("x.jpg", b"x" * (20_000 + FRAMING))]
    )
    _assert_error(too_big, 413, "larger than the server accepts in one send")
    assert len(stored(small)) == 1


def test_an_unexpected_failure_is_a_500_collect_can_show(
    app: Flask, household: str, phone: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(submissions, "receive", broken)
    device: CollectDevice = phone(household)
    reply = _post(device, samples.household())
    _assert_error(reply, 500, "sending it twice is safe")
    assert b"disk on fire" not in reply.body


def test_wrong_method_on_the_submission_url(household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    reply = device.request("DELETE", device.submission_url())
    assert reply.status in (404, 405)
    assert reply.nature == "error"
