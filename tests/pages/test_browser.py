"""End to end in headless Chromium against `collect serve`, at a phone and a desktop size.

Screenshots of every page go to screenshots/<viewport>/ at the repository root (printed at the
end of the run). The phone runs with JavaScript disabled: nothing on the pages needs it.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pages import live
from tests.pages.forms import FORM_ID, site_visit, submission

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not live.CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing (apt-get install chromium; ./dev test does it)",
    ),
]

VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 900)}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# Every control has a label tied to it, every image a text alternative, headings go in order.
ACCESSIBILITY_CHECK = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!el.labels || el.labels.length === 0) bad.push('unlabelled ' + (el.name || el.id));
  }
  for (const img of document.querySelectorAll('img')) {
    if (!img.alt) bad.push('no alt text on ' + img.src.slice(0, 80));
  }
  let last = 0;
  for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    const level = Number(h.tagName[1]);
    if (level > last + 1) bad.push('heading ' + h.tagName + ' after h' + last);
    last = level;
  }
  if (document.querySelectorAll('h1').length !== 1) bad.push('not exactly one h1');
  return bad;
}"""


class Screen:
    """One browser tab at one viewport, with numbered screenshots and a sideways-scroll check."""

    def __init__(self, page: Any, viewport: str, base: str) -> None:
        self.page = page
        self.viewport = viewport
        self.base = base
        self.count = 0
        self.folder = live.SCREENSHOTS / viewport
        self.folder.mkdir(parents=True, exist_ok=True)

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot and check that the page does not scroll sideways."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        overflow = self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {self.viewport}"
        problems = self.page.evaluate(ACCESSIBILITY_CHECK)
        assert not problems, f"{name}: {problems}"
        return path

    def see(self, text: str) -> None:
        """Wait for the text to show: after a click the next page may still be loading."""
        self.page.get_by_text(text).first.wait_for(state="visible", timeout=15_000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.Server]:
    with live.serve(tmp_path_factory.mktemp("live")) as running:
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(live.CHROMIUM), args=live.CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(params=sorted(VIEWPORTS))
def screen(request: pytest.FixtureRequest, chromium: Any, server: live.Server) -> Iterator[Screen]:
    width, height = VIEWPORTS[request.param]
    context = chromium.new_context(
        viewport={"width": width, "height": height},
        java_script_enabled=request.param != "phone",
        accept_downloads=True,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Screen(page, request.param, server.url)
    context.close()


def png(colour: tuple[int, int, int] = (30, 90, 160)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(out, "PNG")
    return out.getvalue()


def decode_qr(image_png: bytes) -> str:
    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(image_png)))
    assert found, "no QR code could be read from the screenshot"
    text: str = found[0].text
    return text


def sign_in(screen: Screen) -> None:
    page = screen.page
    screen.go("/login")
    page.get_by_label("Email").fill(live.ADMIN[0])
    page.get_by_label("Password").fill(live.ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/projects$"))


def test_admin_sets_up_a_form_and_a_phone(screen: Screen, server: live.Server) -> None:
    page = screen.page

    # Sign in: a wrong password first.
    screen.go("/")
    page.wait_for_url(re.compile(r"/login"))
    screen.shot("sign-in")
    page.get_by_label("Email").fill(live.ADMIN[0])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    screen.see("The email or password is not right")
    screen.shot("sign-in-wrong-password")
    sign_in(screen)
    screen.shot("projects-empty")

    # A project.
    name = f"Field visits on a {screen.viewport}"
    page.get_by_label("Project name").fill(name)
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name=name, level=1).wait_for()
    screen.see("The project was created")
    pid = int(re.search(r"/projects/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    screen.shot("project-new")

    # A broken form: the problem is listed with its sheet, row and column.
    page.get_by_role("link", name="Upload a form").click()
    page.get_by_role("heading", name=f"Upload a form to {name}").wait_for()
    screen.shot("upload")
    label = "XLSForm file (.xlsx or .xls)"
    page.get_by_label(label).set_input_files(
        {"name": "site_visit.xlsx", "mimeType": XLSX, "buffer": site_visit(broken=True)}
    )
    page.get_by_role("button", name="Upload form").click()
    problems = page.get_by_role("alert")
    problems.wait_for()
    text = problems.inner_text()
    assert "Sheet “survey”, row 2, column “type”" in text, text
    assert "Unknown question type 'txt'" in text, text
    screen.shot("upload-problems")

    # The fixed one: a draft, waiting for its logo.
    page.get_by_label(label).set_input_files(
        {"name": "site_visit.xlsx", "mimeType": XLSX, "buffer": site_visit()}
    )
    page.get_by_role("button", name="Upload form").click()
    page.get_by_role("heading", name="Draft of Site visit").wait_for()
    screen.see("1 still missing")
    screen.shot("draft")
    page.get_by_label("File for logo.png").set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": png()}
    )
    page.get_by_role("button", name="Upload logo.png").click()
    screen.see("The media file was uploaded")
    page.get_by_role("button", name="Replace logo.png").wait_for()
    screen.shot("draft-media")
    page.get_by_role("button", name="Publish draft").click()
    page.get_by_role("heading", name="Site visit", level=1).wait_for()
    screen.see("The form was published")
    screen.shot("form")

    # An app user and its QR code, read back from the screen.
    page.get_by_role("link", name=name).click()
    page.get_by_label("New app user's name").fill("Phone A")
    page.get_by_role("button", name="Create app user").click()
    page.get_by_role("heading", name="App user: Phone A").wait_for()
    qr = page.get_by_alt_text(re.compile("ODK Collect settings QR code"))
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 300, box
    payload = decode_qr(qr.screenshot())
    settings = json.loads(zlib.decompress(base64.b64decode(payload)))
    server_url = settings["general"]["server_url"]
    assert server_url.startswith(f"{server.url}/v1/key/"), server_url
    assert server_url.endswith(f"/projects/{pid}"), server_url
    assert page.locator("#server-url").inner_text() == server_url
    screen.shot("app-user-qr")
    page.get_by_role("button", name=f"Assign {FORM_ID}").click()
    screen.see("The form was assigned")
    page.get_by_role("button", name=f"Remove {FORM_ID}").wait_for()
    screen.shot("app-user-assigned")

    # A phone sends three site visits through the OpenRosa endpoint, one with a photo.
    token = server_url.split("/v1/key/")[1].split("/")[0]
    for village, water, photo in (
        ("Kara", "yes", "a.png"),
        ("Lomé", "no", None),
        ("Dapaong", "yes", None),
    ):
        parts: dict[str, Any] = {
            "xml_submission_file": {
                "name": "submission.xml",
                "mimeType": "text/xml",
                "buffer": submission(village, water, photo=photo),
            }
        }
        if photo:
            parts[photo] = {"name": photo, "mimeType": "image/png", "buffer": png((200, 80, 20))}
        sent = page.request.post(
            f"{server.url}/v1/key/{token}/projects/{pid}/submission",
            multipart=parts,
            headers={"X-OpenRosa-Version": "1.0"},
        )
        assert sent.status == 201, sent.text()

    # The table: newest first, labels, the photo as a thumbnail.
    screen.go(f"/projects/{pid}/forms/{FORM_ID}")
    page.get_by_role("link", name="See submissions").click()
    page.get_by_role("heading", name="3 submissions").wait_for()
    rows = page.locator("tbody tr")
    assert "Dapaong" in rows.nth(0).inner_text()
    assert "Kara" in rows.nth(2).inner_text()
    thumb = page.get_by_alt_text("Photo a.png (Photo of the site)")
    thumb.scroll_into_view_if_needed()
    loaded = thumb.evaluate(
        "img => img.complete ? img.naturalWidth > 0 : new Promise(done => {"
        " img.onload = () => done(img.naturalWidth > 0); img.onerror = () => done(false); })"
    )
    assert loaded, "the photo thumbnail did not load"
    screen.shot("submissions")
    page.get_by_label("Language of the labels").select_option("French (fr)")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("columnheader", name="Eau potable ?").wait_for()
    screen.shot("submissions-french")

    # One submission in full, and a review with a comment.
    rows.nth(2).get_by_role("link").click()
    page.get_by_role("heading", name="Submission of Site visit").wait_for()
    screen.see("Kara")
    page.get_by_label("Review state").select_option("hasIssues")
    page.get_by_label("Comment (optional)").fill("The village name needs checking.")
    page.get_by_role("button", name="Save review").click()
    screen.see("The review was saved.")
    screen.see("The village name needs checking.")
    screen.shot("submission-reviewed")
    screen.go(f"/projects/{pid}/forms/{FORM_ID}/submissions?review=hasIssues")
    page.get_by_role("heading", name="1 submission matches").wait_for()

    # The CSV zip, downloaded with the options form and read back.
    screen.go(f"/projects/{pid}/forms/{FORM_ID}")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV zip").click()
    archive = zipfile.ZipFile(info.value.path())
    with archive.open(f"{FORM_ID}.csv") as f:
        table = list(csv.DictReader(io.TextIOWrapper(f, "utf-8-sig")))
    assert sorted(r["village"] for r in table) == ["Dapaong", "Kara", "Lomé"]
    assert any(n.endswith("a.png") for n in archive.namelist()), archive.namelist()

    # The evaluation report: tables and charts; suppression off shows the small numbers.
    page.get_by_role("link", name=name).click()
    page.get_by_role("link", name="Evaluation report").click()
    page.get_by_role("heading", name=f"Evaluation report: {name}").wait_for()
    assert page.locator("figure.chart svg").count() >= 1
    screen.shot("evaluation-suppressed")
    page.get_by_label("Smallest number of people a published cell may count").fill("0")
    page.get_by_role("button", name="Save threshold").click()
    screen.see("The suppression threshold was changed.")
    screen.see("83.333% of the target")
    bars = page.locator("figure.chart svg rect")
    assert bars.count() >= 2
    screen.shot("evaluation")

    # Sign out.
    page.get_by_role("button", name="Sign out").click()
    screen.see("You are signed out.")
