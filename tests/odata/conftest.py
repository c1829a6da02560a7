"""OData tests reuse the export tests' sample world (groups, nested repeats, a geopoint,
select_multiple, sensitive questions, two versions, an edit and reviews) and add a sample form
from forms/ with submissions sent as ODK Collect sends them."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.exports.conftest import FORM, Sample, sample
from tests.exports.conftest import send as send_submission
from tests.helpers import Api

__all__ = ["FORM", "Sample", "consultation", "sample", "svc"]

CONSULTATION = "consultation_record"


def svc(project: int, form: str, path: str = "", query: str = "") -> str:
    """A URL of a form's OData service."""
    url = f"/v1/projects/{project}/forms/{form}.svc{path}"
    return f"{url}?{query}" if query else url


def consultation_xml(instance_id: str, recommendations: list[tuple[str, str]], where: str) -> bytes:
    items = "".join(
        f"<recommendation><theme>{theme}</theme><recommendation_text>{text}"
        "</recommendation_text><raised_by>csos</raised_by><priority>high</priority>"
        "</recommendation>"
        for theme, text in recommendations
    )
    return (
        f'<data id="{CONSULTATION}" version="2026112801">'
        "<start>2026-03-02T09:00:00.000+01</start><end>2026-03-02T11:00:00.000+01:00</end>"
        "<today>2026-03-02</today><deviceid>collect:abc</deviceid>"
        "<consultation>upr</consultation><session_date>2026-03-02</session_date>"
        f"<region>north</region><venue>Town hall</venue><location>{where}</location>"
        "<count_intro/><women>12</women><men>9</men><persons_with_disabilities>2"
        "</persons_with_disabilities><youth>4</youth><civil_society_orgs>3</civil_society_orgs>"
        "<government_officials>1</government_officials><total>21</total><total_note/>"
        f"{items}<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


@pytest.fixture
def consultation(client: FlaskClient, admin: Api, project: int, publish: Any, app_user: Any) -> int:
    """forms/consultation_record.xlsx published, with two sessions sent from a device."""
    publish(CONSULTATION)
    token = app_user(CONSULTATION)["token"]
    send_submission(
        client,
        project,
        token,
        consultation_xml(
            "uuid:c-1", [("access", "Open the registry"), ("budget", "Fund it")], "14.7 -17.4 5 3"
        ),
    )
    send_submission(client, project, token, consultation_xml("uuid:c-2", [], ""))
    return project
