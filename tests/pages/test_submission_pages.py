"""The submissions table, one submission in full, reviews, and the evaluation report page."""

from __future__ import annotations

import html
import io
import re
from typing import Any

import pytest

from tests.pages.conftest import Browser
from tests.pages.forms import FORM_ID, send, site_visit, submission

PNG = b"\x89PNG\r\n\x1a\n fake photo"


@pytest.fixture
def visits(admin: Any, admin_page: Browser, project: int) -> dict[str, Any]:
    """The site visit form, published with its logo, and three submissions from a phone."""
    uploaded = admin_page.post(
        f"/projects/{project}/forms/new",
        {"file": (io.BytesIO(site_visit()), "site_visit.xlsx"), "publish": "yes"},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 303, uploaded.get_data(as_text=True)
    device = admin.post(f"/v1/projects/{project}/app-users", json={"displayName": "P"})
    token = device.get_json()["token"]
    admin.post(
        f"/v1/projects/{project}/forms/{FORM_ID}/assignments/app-user/{device.get_json()['id']}"
    )
    sent = []
    for village, water, photo in (
        ("Kara", "yes", "a.png"),
        ("Lomé", "no", None),
        ("Sokodé", "yes", None),
    ):
        xml = submission(village, water, photo=photo)
        response = send(
            admin_page.client.post, token, project, xml, {photo: PNG} if photo else None
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        sent.append(re.search(rb"<instanceID>([^<]+)<", xml).group(1).decode())  # type: ignore[union-attr]
    return {"pid": project, "ids": sent}


def test_table_lists_newest_first_with_labels_and_thumbnails(
    admin_page: Browser, visits: dict[str, Any]
) -> None:
    base = f"/projects/{visits['pid']}/forms/{FORM_ID}/submissions"
    page = html.unescape(admin_page.text(base))
    assert "3 submissions" in page
    assert page.index("Sokodé") < page.index("Lomé") < page.index("Kara")
    assert '<th scope="col">Is there clean water?</th>' in page
    assert ">Yes</td>" in page
    assert re.search(r'<img class="thumb"[^>]+/attachments/a.png"[^>]+alt="Photo a.png', page)
    french = html.unescape(admin_page.text(base + "?lang=French+(fr)"))
    assert "Eau potable ?" in french
    assert ">Oui</td>" in french
    # The photo itself comes through the API with the cookie.
    photo = admin_page.client.get(
        f"/v1/projects/{visits['pid']}/forms/{FORM_ID}/submissions/{visits['ids'][0]}/attachments/a.png"
    )
    assert photo.data == PNG


def test_filters_and_review(admin_page: Browser, visits: dict[str, Any]) -> None:
    pid, first = visits["pid"], visits["ids"][0]
    base = f"/projects/{pid}/forms/{FORM_ID}/submissions"
    detail = html.unescape(admin_page.text(f"{base}/{first}"))
    assert "Kara" in detail
    assert '<label for="review-state">Review state</label>' in detail
    assert "a.png" in detail
    reviewed = admin_page.post(
        f"{base}/{first}/review", {"state": "hasIssues", "comment": "Village misspelt"}
    )
    assert reviewed.status_code == 303
    after = html.unescape(admin_page.text(reviewed.headers["Location"]))
    assert "Village misspelt" in after
    assert "The review was saved." in after
    only_issues = html.unescape(admin_page.text(base + "?review=hasIssues"))
    assert "1 submission match" in only_issues
    assert "Kara" in only_issues and "Lomé" not in only_issues
    assert "0 submissions match" in admin_page.text(base + "?from=2000-01-01&to=2000-01-02")
    assert admin_page.get(base + "?from=yesterday").status_code == 400
    bad = admin_page.post(f"{base}/{first}/review", {"state": "bogus"})
    assert bad.status_code == 400


def test_viewer_reads_but_cannot_review(
    admin_page: Browser, visits: dict[str, Any], person: Any
) -> None:
    pid, first = visits["pid"], visits["ids"][0]
    viewer = person("viewer@example.org")
    admin_page.post(f"/projects/{pid}/members", {"email": "viewer@example.org", "role": "viewer"})
    base = f"/projects/{pid}/forms/{FORM_ID}/submissions"
    assert "3 submissions" in viewer.text(base)
    detail = viewer.text(f"{base}/{first}")
    assert "Only project managers can change the review state." in detail
    viewer.get(base)
    assert viewer.post(f"{base}/{first}/review", {"state": "approved"}).status_code == 403
    assert viewer.get(f"{base}/uuid:unknown").status_code == 404


def test_evaluation_report_page(admin_page: Browser, visits: dict[str, Any], person: Any) -> None:
    pid = visits["pid"]
    page = html.unescape(admin_page.text(f"/projects/{pid}/evaluation"))
    assert '<h2 id="section-participation">Participation</h2>' in page
    assert "Site visits" in page
    assert "<svg" in page and "Bar chart of Site visits by" in page
    assert f'formaction="/v1/projects/{pid}/evaluation.csv"' in page
    assert '<label for="min-cell">' in page
    # Three submissions are under the default threshold of 5: suppressed.
    assert "suppressed" in page
    changed = admin_page.post(f"/projects/{pid}/evaluation/min-cell", {"min_cell": "0"})
    assert changed.status_code == 303
    open_page = html.unescape(admin_page.text(f"/projects/{pid}/evaluation"))
    assert "Suppression of small counts is off" in open_page
    assert "83.333% of the target" in open_page  # 2 of 3 sites (66.667%) against 80
    assert re.search(r"<strong>3</strong>", open_page)
    assert (
        admin_page.post(f"/projects/{pid}/evaluation/min-cell", {"min_cell": "x"}).status_code
        == 400
    )
    viewer = person("viewer@example.org")
    admin_page.post(f"/projects/{pid}/members", {"email": "viewer@example.org", "role": "viewer"})
    seen = viewer.text(f"/projects/{pid}/evaluation")
    assert "Project managers can change it." in seen
    assert viewer.post(f"/projects/{pid}/evaluation/min-cell", {"min_cell": "3"}).status_code == 403
