"""pyodk writes submissions to a running collect, as it writes them to ODK Central."""

from __future__ import annotations

from pathlib import Path

from pyodk.client import Client

from tests.openrosa import samples
from tests.test_pyodk import client, server

__all__ = ["client", "server"]  # pyodk's fixtures: a live server on each database, signed in


def test_pyodk_creates_with_a_file_then_edits_with_a_comment(
    client: Client, tmp_path: Path
) -> None:
    pid = client.session.post("projects", json={"name": "Scripts"}).json()["id"]
    published = client.session.post(
        f"projects/{pid}/forms?publish=true",
        data=samples.household_xml(),
        headers={"Content-Type": "application/xml"},
    )
    assert published.status_code == 200, published.text
    photo = tmp_path / "house.jpg"
    photo.write_bytes(samples.jpeg(3000, seed=9))

    first = samples.new_id()
    xml = samples.household(respondent="Amina", photo="house.jpg", instance_id=first)
    created = client.submissions.create(
        xml=xml.decode(), form_id="household", project_id=pid, attachments=[photo]
    )
    assert created.instanceId == first
    assert [(a.name, a.exists) for a in created.attachments or []] == [("house.jpg", True)]

    edited = samples.household(respondent="Amina B.", photo="house.jpg", deprecated_id=first)
    client.submissions.edit(
        instance_id=first,
        xml=edited.decode(),
        form_id="household",
        project_id=pid,
        comment="Name corrected.",
    )
    [listed] = client.submissions.list(form_id="household", project_id=pid)
    assert listed.instanceId == first
    assert listed.reviewState == "edited"
    [comment] = client.submissions.list_comments(
        instance_id=first, form_id="household", project_id=pid
    )
    assert comment.body == "Name corrected."
    table = client.submissions.get_table(form_id="household", project_id=pid)
    assert table["value"][0]["respondent"] == "Amina B."
    downloaded = client.session.get(
        f"projects/{pid}/forms/household/submissions/{first}/attachments/house.jpg"
    )
    assert downloaded.content == photo.read_bytes()
