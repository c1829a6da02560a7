"""Fixtures for the OpenRosa tests: forms published as a coordinator would, and phones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from collect import create_app
from collect.storage.db import db
from collect.storage.models import Submission, SubmissionAttachment, SubmissionDef
from tests.helpers import Api
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, flask_transport
from tests.openrosa.javarosa import JavaRosa, compile_filler

XML = {"Content-Type": "application/xml"}


@pytest.fixture
def publish_xml(admin: Api, project: int) -> Callable[..., str]:
    """Publish an XForm (with its media files uploaded first); returns the form id."""

    def _publish(xml: bytes, media: dict[str, bytes] | None = None) -> str:
        publish = "false" if media else "true"
        created = admin.post(
            f"/v1/projects/{project}/forms?publish={publish}", data=xml, headers=XML
        )
        assert created.status_code == 200, created.get_json()
        form_id: str = created.get_json()["xmlFormId"]
        for name, data in (media or {}).items():
            uploaded = admin.post(
                f"/v1/projects/{project}/forms/{form_id}/draft/attachments/{name}",
                data=data,
                headers={"Content-Type": "image/png"},
            )
            assert uploaded.status_code == 200, uploaded.get_json()
        if media:
            published = admin.post(f"/v1/projects/{project}/forms/{form_id}/draft/publish")
            assert published.status_code == 200, published.get_json()
        return form_id

    return _publish


@pytest.fixture
def new_version(admin: Api, project: int) -> Callable[[str, bytes], None]:
    """Publish a new version of a form from its XForm."""

    def _new_version(form_id: str, xml: bytes) -> None:
        draft = admin.post(f"/v1/projects/{project}/forms/{form_id}/draft", data=xml, headers=XML)
        assert draft.status_code == 200, draft.get_json()
        published = admin.post(f"/v1/projects/{project}/forms/{form_id}/draft/publish")
        assert published.status_code == 200, published.get_json()

    return _new_version


@pytest.fixture
def household(publish_xml: Callable[..., str]) -> str:
    """The household form (text, integer, photo, a repeat with photos), version 1."""
    return publish_xml(samples.household_xml("1"))


@pytest.fixture
def phone(client: FlaskClient, project: int, app_user: Any) -> Callable[..., CollectDevice]:
    """A phone whose app user is assigned the given forms."""

    def _phone(*form_ids: str, name: str = "Enumerator 1") -> CollectDevice:
        user = app_user(*form_ids, name=name)
        url = f"http://localhost/v1/key/{user['token']}/projects/{project}"
        return CollectDevice(url, flask_transport(client))

    return _phone


@pytest.fixture
def variant(app_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """Another app on the test's database with some settings changed (disposed afterwards)."""
    made: list[Flask] = []

    def _variant(**overrides: Any) -> Flask:
        made.append(create_app({**app_config, **overrides}))
        return made[-1]

    yield _variant
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def javarosa(tmp_path_factory: pytest.TempPathFactory) -> JavaRosa:
    """JavaRosa, to write instances exactly as ODK Collect does (skips without Java)."""
    filler = compile_filler(Path(tmp_path_factory.mktemp("javarosa")))
    if filler is None:
        pytest.skip("Java (java and javac) is not installed")
    return filler


def stored(app: Flask) -> list[dict[str, Any]]:
    """Every stored submission version, oldest first, as plain values."""
    with app.app_context():
        rows = db.session.execute(
            select(SubmissionDef, Submission)
            .join(Submission, Submission.id == SubmissionDef.submission_id)
            .order_by(SubmissionDef.id)
        )
        out = []
        for version, submission in rows:
            attachments = db.session.scalars(
                select(SubmissionAttachment)
                .where(SubmissionAttachment.submission_def_id == version.id)
                .order_by(SubmissionAttachment.id)
            )
            out.append(
                {
                    "submission": submission.instance_id,
                    "instance_id": version.instance_id,
                    "instance_name": version.instance_name,
                    "deprecated_id": version.deprecated_id,
                    "current": version.current,
                    "xml": version.xml,
                    "data": version.data,
                    "encrypted": version.encrypted,
                    "form_def_id": version.form_def_id,
                    "device_id": version.device_id,
                    "user_agent": version.user_agent,
                    "submitter_id": version.submitter_id,
                    "review_state": submission.review_state,
                    "expected": version.attachments_expected,
                    "present": version.attachments_present,
                    "attachments": {
                        a.name: (a.blob.sha256 if a.blob is not None else None) for a in attachments
                    },
                }
            )
        return out
