"""pyodk reads the OData feed of a running collect, as it reads ODK Central's."""

from __future__ import annotations

from pyodk.client import Client

from tests.helpers import FORMS_DIR
from tests.odata.conftest import CONSULTATION, consultation_xml
from tests.test_pyodk import client, server

__all__ = ["client", "server"]  # pyodk's fixtures: a live server on each database, signed in


def test_pyodk_get_table_reads_submissions_and_repeats(client: Client) -> None:
    pid = client.session.post("projects", json={"name": "Consultations 2026"}).json()["id"]
    client.forms.create(definition=FORMS_DIR / f"{CONSULTATION}.xlsx", project_id=pid)
    device = client.projects.create_app_users(
        display_names=["Field team"], forms=[CONSULTATION], project_id=pid
    )[0]
    for n in range(3):
        body = consultation_xml(f"uuid:pyodk-{n}", [("access", f"Point {n}")], "14.7 -17.4 5 3")
        sent = client.session.post(
            f"key/{device.token}/projects/{pid}/submission",
            files={"xml_submission_file": ("instance.xml", body, "text/xml")},
            headers={"X-OpenRosa-Version": "1.0"},
        )
        assert sent.status_code == 201, sent.text

    table = client.submissions.get_table(form_id=CONSULTATION, project_id=pid)
    assert [row["__id"] for row in table["value"]] == [
        "uuid:pyodk-2",
        "uuid:pyodk-1",
        "uuid:pyodk-0",
    ]
    assert table["value"][0]["women"] == 12
    assert table["value"][0]["__system"]["submitterName"] == "Field team"

    page = client.submissions.get_table(
        form_id=CONSULTATION, project_id=pid, top=2, count=True, expand="*"
    )
    assert page["@odata.count"] == 3
    assert len(page["value"]) == 2
    assert "@odata.nextLink" in page
    assert page["value"][0]["recommendation"][0]["recommendation_text"] == "Point 2"

    repeats = client.submissions.get_table(
        form_id=CONSULTATION, project_id=pid, table_name="Submissions.recommendation"
    )
    assert [r["__Submissions-id"] for r in repeats["value"]] == [
        "uuid:pyodk-2",
        "uuid:pyodk-1",
        "uuid:pyodk-0",
    ]
    filtered = client.submissions.get_table(
        form_id=CONSULTATION, project_id=pid, filter="__system/submissionDate lt 2000-01-01"
    )
    assert filtered["value"] == []
