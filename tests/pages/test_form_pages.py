"""Uploading forms on the pages: readable problems, the kept file, media, publish, versions."""

from __future__ import annotations

import html
import io
import re
from typing import Any

from tests.pages.conftest import Browser
from tests.pages.forms import FORM_ID, site_visit
from tests.workbooks import xlsx


def upload(browser: Browser, path: str, body: bytes | None, **fields: Any) -> Any:
    data: dict[str, Any] = dict(fields)
    if body is not None:
        data["file"] = (io.BytesIO(body), "site_visit.xlsx")
    return browser.post(path, data, content_type="multipart/form-data")


def test_broken_form_lists_what_to_fix_and_keeps_the_file(
    admin_page: Browser, project: int
) -> None:
    response = upload(admin_page, f"/projects/{project}/forms/new", site_visit(broken=True))
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "The form could not be uploaded" in page
    assert "Sheet “survey”, row 2, column “type”:</span> Unknown question type 'txt'." in page
    assert 'name="kept"' in page
    assert "leave this empty to send site_visit.xlsx again" in page
    # The corrected file goes up in one step from the same page.
    fixed = upload(admin_page, f"/projects/{project}/forms/new", site_visit())
    assert fixed.status_code == 303
    assert fixed.headers["Location"].endswith(f"/forms/{FORM_ID}/draft?notice=draft-created")


def test_warnings_can_be_accepted_without_choosing_the_file_again(
    admin_page: Browser, project: int
) -> None:
    warned = xlsx(
        [("type", "name", "label"), ("image", "photo", "Photo")],
        settings=[("form_id", "version"), ("photos", "1")],
    )
    response = upload(admin_page, f"/projects/{project}/forms/new", warned)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "Accept the warnings" in page
    assert "max-pixels" in page
    kept = re.search(r'name="kept" value="([^"]+)"', page)
    assert kept is not None
    again = upload(
        admin_page,
        f"/projects/{project}/forms/new",
        None,
        kept=kept.group(1),
        kept_name="photos.xlsx",
        ignore_warnings="yes",
    )
    assert again.status_code == 303, again.get_data(as_text=True)
    assert "/forms/photos/draft" in again.headers["Location"]


def test_nothing_chosen_is_a_sentence(admin_page: Browser, project: int) -> None:
    response = upload(admin_page, f"/projects/{project}/forms/new", None)
    assert response.status_code == 400
    assert "Choose the XLSForm file" in response.get_data(as_text=True)


def test_draft_media_publish_and_new_version(admin_page: Browser, project: int) -> None:
    base = f"/projects/{project}/forms/{FORM_ID}"
    assert upload(admin_page, f"/projects/{project}/forms/new", site_visit()).status_code == 303
    draft = admin_page.text(base + "/draft")
    assert '<label for="media-1">File for logo.png</label>' in draft
    assert "1 still missing" in draft
    wrong_name = admin_page.post(
        base + "/draft/media",
        {"name": "other.png", "file": (io.BytesIO(b"x"), "other.png")},
        content_type="multipart/form-data",
    )
    assert wrong_name.status_code == 404
    assert "Files it expects: logo.png" in wrong_name.get_data(as_text=True)
    added = admin_page.post(
        base + "/draft/media",
        {"name": "logo.png", "file": (io.BytesIO(b"\x89PNG fake"), "my-logo.png")},
        content_type="multipart/form-data",
    )
    assert added.status_code == 303
    assert "Replace logo.png" in admin_page.text(base + "/draft")
    published = admin_page.post(base + "/draft/publish")
    assert published.status_code == 303
    form_page = admin_page.text(base)
    assert "Published version</dt><dd>1</dd>" in form_page
    # The media went with the published version.
    media = admin_page.client.get(f"/v1/projects/{project}/forms/{FORM_ID}/attachments/logo.png")
    assert media.data == b"\x89PNG fake"
    # A new version: the same id, a new version string; the logo is carried over.
    assert "This form has no draft" in admin_page.text(base + "/draft")
    second = upload(admin_page, base + "/draft", site_visit(version="2"))
    assert second.status_code == 303
    assert "Replace logo.png" in admin_page.text(base + "/draft")
    same = admin_page.post(base + "/draft/publish", {"version": "1"})
    assert same.status_code == 409
    assert admin_page.post(base + "/draft/publish", {"version": "2b"}).status_code == 303
    versions = admin_page.text(base)
    assert "XForm of 2b" in versions
    assert "XForm of 1" in versions
    # A workbook for another form id is refused with the reason, on the draft page itself.
    other = xlsx([("type", "name", "label"), ("text", "a", "A")], settings=[("form_id",), ("x",)])
    refused = upload(admin_page, base + "/draft", other)
    assert refused.status_code == 400
    assert "must keep the form id" in refused.get_data(as_text=True)
    assert "Upload new version" in refused.get_data(as_text=True)


def test_state_change(admin_page: Browser, project: int, publish: Any) -> None:
    publish("training_pretest")
    base = f"/projects/{project}/forms/training_pretest"
    assert admin_page.post(base + "/state", {"state": "closing"}).status_code == 303
    assert 'value="closing" selected' in admin_page.text(base)
    assert admin_page.post(base + "/state", {"state": "bogus"}).status_code == 400


def test_export_buttons_point_at_the_api(admin_page: Browser, project: int, publish: Any) -> None:
    publish("training_pretest")
    page = admin_page.text(f"/projects/{project}/forms/training_pretest")
    api = f"/v1/projects/{project}/forms/training_pretest/submissions"
    assert f'formaction="{api}.csv.zip"' in page
    assert f'formaction="{api}.csv"' in page
    assert f'formaction="{api}.xlsx"' in page
    assert '<form class="stack" method="get"' in page
    for label in ("Labels", "Column names", "Multiple-choice answers", "Received from (date)"):
        assert f">{label}</label>" in page
    assert 'value="French (fr)"' in page


def test_app_user_page_shows_a_scannable_qr_code(admin_page: Browser, project: int) -> None:
    created = admin_page.post(f"/projects/{project}/app-users", {"display_name": "Tablet 7"})
    assert created.status_code == 303
    page = admin_page.text(created.headers["Location"])
    assert 'alt="ODK Collect settings QR code for app user Tablet 7' in page
    assert re.search(r"http://localhost/v1/key/[\w-]+/projects/\d+", page)
    revoke = re.search(r'action="([^"]+/revoke)"', page)
    assert revoke is not None
    assert admin_page.post(revoke.group(1)).status_code == 303
    assert admin_page.get(created.headers["Location"].split("?")[0]).status_code == 404
