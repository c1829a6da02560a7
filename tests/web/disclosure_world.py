"""A human-rights monitoring form whose sensitive answers carry markers, sent as Collect sends it.

The form has a sensitive question, a sensitive group, a sensitive question and file inside a
repeat, a sensitive repeat, a sensitive file, and an instance name made from the sensitive
observer code, in three versions: version 1 marks the observer code, version 2 (current) no
longer does, and the draft marks `notes`. Each sensitive answer is a distinctive string, so a
test can look for it in every byte a reader gets.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import make_user
from tests.exports.conftest import send
from tests.helpers import XLSX, Api
from tests.pages.conftest import Browser, signed_in
from tests.workbooks import xlsx

FORM = "field_report"
OBSERVER = "OBS-7Q3Z"
VICTIM = "VICTIM-K2P"
WITNESS = "WITNESS-J8R"
PHONE = "PHONE-55X"
NOTE = "NOTE-8H"  # sensitive only in the draft
WITNESS_FILE = "witness-W9.jpg"
WITNESS_BYTES = b"\xff\xd8\xff WITNESS-PHOTO-M4"
ID_FILE = "idcard-Q1.jpg"
ID_BYTES = b"\xff\xd8\xff ID-PHOTO-T6"
INSTANCE_NAME = f"{OBSERVER} kara"
# Every marker, as it would appear in a response: answers, file names and file bytes.
MARKERS = (
    OBSERVER,
    VICTIM,
    WITNESS,
    PHONE,
    NOTE,
    "witness-W9",
    "idcard-Q1",
    "PHOTO-M4",
    "PHOTO-T6",
)
# What a viewer does see, so that a walk that sees nothing cannot pass.
WHAT = "WHAT-VISIBLE-1"
SITE_FILE = "site.jpg"
SITE_BYTES = b"\xff\xd8\xff SITE-PHOTO-OK"
VISIBLE = (WHAT, "SITE-PHOTO-OK")
PASSWORD = "a long password"


def workbook(version: str, *, observer_marked: bool, notes_marked: bool) -> bytes:
    """The form's XLSForm; the indicators sheet has one restricted indicator."""
    return xlsx(
        [
            ("type", "name", "label", "sensitive", "parameters"),
            ("text", "observer_code", "Observer code", "yes" if observer_marked else "", ""),
            ("select_one region", "region", "Region", "", ""),
            ("begin_group", "victim", "Victim", "yes", ""),
            ("text", "victim_name", "Victim's name", "", ""),
            ("integer", "victim_age", "Victim's age", "", ""),
            ("end_group", "", "", "", ""),
            ("begin_repeat", "incident", "Incident", "", ""),
            ("text", "what", "What happened", "", ""),
            ("text", "witness", "Witness", "yes", ""),
            ("image", "witness_photo", "Photo of the witness", "yes", "max-pixels=1024"),
            ("end_repeat", "", "", "", ""),
            ("begin_repeat", "contacts", "Contacts", "yes", ""),
            ("text", "contact_phone", "Phone", "", ""),
            ("end_repeat", "", "", "", ""),
            ("image", "site_photo", "Photo of the site", "", "max-pixels=1024"),
            ("image", "id_photo", "Photo of the ID card", "yes", "max-pixels=1024"),
            ("text", "notes", "Notes", "yes" if notes_marked else "", ""),
        ],
        choices=[
            ("list_name", "name", "label"),
            ("region", "kara", "Kara"),
            ("region", "lome", "Lomé"),
        ],
        settings=[
            ("form_id", "version", "form_title", "instance_name"),
            (FORM, version, "Field report", "concat(${observer_code}, ' ', ${region})"),
        ],
        extra={
            "indicators": [
                ("name", "section", "label", "type", "field", "by", "restricted"),
                ("reports", "participation", "Reports", "count", "", "region", ""),
                (
                    "victim_age",
                    "impact",
                    "Mean age of victims",
                    "mean",
                    "victim_age",
                    "region",
                    "yes",
                ),
            ]
        },
    )


def submission(version: str, instance_id: str, *, deprecated: str | None = None) -> bytes:
    """A report as ODK Collect writes it, with every marker in its place."""
    meta = f"<instanceID>{instance_id}</instanceID><instanceName>{INSTANCE_NAME}</instanceName>"
    if deprecated:
        meta += f"<deprecatedID>{deprecated}</deprecatedID>"
    return (
        f'<?xml version="1.0"?><data id="{FORM}" version="{version}">'
        f"<observer_code>{OBSERVER}</observer_code><region>kara</region>"
        f"<victim><victim_name>{VICTIM}</victim_name><victim_age>34</victim_age></victim>"
        f"<incident><what>{WHAT}</what><witness>{WITNESS}</witness>"
        f"<witness_photo>{WITNESS_FILE}</witness_photo></incident>"
        f"<contacts><contact_phone>{PHONE}</contact_phone></contacts>"
        f"<site_photo>{SITE_FILE}</site_photo><id_photo>{ID_FILE}</id_photo>"
        f"<notes>{NOTE}</notes><meta>{meta}</meta></data>"
    ).encode()


@dataclass
class Reader:
    """A project member, by bearer token (API) and signed in on the pages (cookie)."""

    actor_id: int
    api: Api
    browser: Browser


@dataclass
class World:
    app: Flask
    pid: int
    admin: Api
    viewer: Reader
    manager: Reader
    device_id: int
    device_token: str
    first: str  # the edited submission's instanceID (its first version's)
    second: str  # a submission sent against version 1

    def base(self) -> str:
        return f"/v1/projects/{self.pid}/forms/{FORM}"


def build(app: Flask, client: FlaskClient, admin: Api, pid: int) -> World:
    """Publish versions 1 and 2, start the draft, send two reports and edit one."""
    base = f"/v1/projects/{pid}/forms"
    v1 = workbook("1", observer_marked=True, notes_marked=False)
    created = admin.post(f"{base}?publish=true", data=v1, headers={"Content-Type": XLSX})
    assert created.status_code == 200, created.get_json()
    device = admin.post(f"/v1/projects/{pid}/app-users", json={"displayName": "Monitor"})
    token, device_id = device.get_json()["token"], device.get_json()["id"]
    admin.post(f"{base}/{FORM}/assignments/app-user/{device_id}")
    second = f"uuid:{uuid.uuid4()}"
    send(client, pid, token, submission("1", second), {SITE_FILE: SITE_BYTES})
    for version, notes_marked in (("2", False), ("3", True)):
        body = workbook(version, observer_marked=False, notes_marked=notes_marked)
        draft = admin.post(f"{base}/{FORM}/draft", data=body, headers={"Content-Type": XLSX})
        assert draft.status_code == 200, draft.get_json()
        if version == "2":
            published = admin.post(f"{base}/{FORM}/draft/publish")
            assert published.status_code == 200, published.get_json()
            first = f"uuid:{uuid.uuid4()}"
            files = {SITE_FILE: SITE_BYTES, WITNESS_FILE: WITNESS_BYTES, ID_FILE: ID_BYTES}
            send(client, pid, token, submission("2", first), files)
            edited = admin.put(
                f"{base}/{FORM}/submissions/{first}",
                data=submission("2", f"uuid:{uuid.uuid4()}", deprecated=first),
                headers={"Content-Type": "application/xml"},
            )
            assert edited.status_code == 200, edited.get_json()
    return World(
        app,
        pid,
        admin,
        _member(app, client, admin, pid, "viewer"),
        _member(app, client, admin, pid, "manager"),
        device_id,
        token,
        first,
        second,
    )


def _member(app: Flask, client: FlaskClient, admin: Api, pid: int, role: str) -> Reader:
    email = f"{role}@example.org"
    actor_id, api = make_user(app, client, email, PASSWORD)
    assigned = admin.post(f"/v1/projects/{pid}/assignments/{role}/{actor_id}")
    assert assigned.status_code == 200, assigned.get_json()
    return Reader(actor_id, api, signed_in(app, email, PASSWORD))
