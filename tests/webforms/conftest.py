"""Fixtures for the web forms: the built bundle, a live server, and a phone-sized Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collect import assets
from tests import live
from tests.helpers import XLSX, form_bytes
from tests.pages.live import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

PHONE = {"width": 390, "height": 844}
_SUBMIT_TO = """url => new MutationObserver((_, observer) => {
  const form = document.querySelector('[data-webform]');
  if (form) { form.dataset.submissionUrl = url; observer.disconnect(); }
}).observe(document, { childList: true, subtree: true })"""


@pytest.fixture(scope="module")
def server(
    bundle: assets.Bundle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[live.Server]:
    with live.serve(tmp_path_factory.mktemp("webforms")) as running:
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium; ./dev test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def chromium(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


class Site:
    """The live server's JSON API as an admin (bearer token), through Playwright's HTTP client."""

    def __init__(self, server: live.Server, request: Any) -> None:
        self.url = server.url
        self.request = request
        signed = request.post(
            f"{self.url}/v1/sessions", data={"email": live.ADMIN[0], "password": live.ADMIN[1]}
        )
        assert signed.ok, signed.text()
        self.headers = {"Authorization": f"Bearer {signed.json()['token']}"}

    def call(self, method: str, path: str, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        response = self.request.fetch(self.url + path, method=method, headers=headers, **kw)
        assert response.ok, (method, path, response.status, response.text())
        return response

    def project(self, name: str) -> int:
        pid: int = self.call("POST", "/v1/projects", data={"name": name}).json()["id"]
        return pid

    def upload(self, pid: int, workbook: bytes, *, publish: bool = True) -> str:
        flag = "true" if publish else "false"
        created = self.call(
            "POST",
            f"/v1/projects/{pid}/forms?publish={flag}&ignoreWarnings=true",
            data=workbook,
            headers={"Content-Type": XLSX},
        )
        xml_form_id: str = created.json()["xmlFormId"]
        return xml_form_id

    def publish_with_media(self, pid: int, workbook: bytes, media: dict[str, bytes]) -> str:
        """Upload a form as a draft, give it its media files, and publish it."""
        xml_form_id = self.upload(pid, workbook, publish=False)
        base = f"/v1/projects/{pid}/forms/{xml_form_id}/draft"
        for name, data in media.items():
            self.call("POST", f"{base}/attachments/{name}", data=data)
        self.call("POST", f"{base}/publish")
        return xml_form_id

    def site_check(self, project: str, **form: Any) -> tuple[int, str]:
        """A new project with the site check form (tests/webforms/forms.py) and its logo."""
        from tests.webforms.forms import png, site_check

        pid = self.project(project)
        return pid, self.publish_with_media(pid, site_check(**form), {"logo.png": png()})

    def sample(self, pid: int, name: str) -> str:
        """Publish forms/<name>.xlsx."""
        return self.upload(pid, form_bytes(name))

    def app_user_submission_url(self, pid: int, xml_form_id: str) -> str:
        """The OpenRosa submission URL of a new app user allowed to fill the form."""
        created = self.call("POST", f"/v1/projects/{pid}/app-users", data={"displayName": "Web"})
        body = created.json()
        self.call(
            "POST", f"/v1/projects/{pid}/forms/{xml_form_id}/assignments/app-user/{body['id']}"
        )
        return f"/v1/key/{body['token']}/projects/{pid}/submission"

    def submissions(self, pid: int, xml_form_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.call(
            "GET", f"/v1/projects/{pid}/forms/{xml_form_id}/submissions"
        ).json()
        return found

    def get(self, path: str) -> bytes:
        body: bytes = self.call("GET", path).body()
        return body


@pytest.fixture(scope="module")
def site(server: live.Server, playwright: Any) -> Iterator[Site]:
    request = playwright.request.new_context()
    yield Site(server, request)
    request.dispose()


class Phone:
    """One browser on a 390×844 phone: what went wrong on its pages is kept in `problems`."""

    def __init__(self, context: Any, base: str, name: str) -> None:
        self.context = context
        self.base = base
        self.page = context.new_page()
        self.page.set_default_timeout(30_000)
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.folder = SCREENSHOTS / "webforms"
        self.name = re.sub(r"\W+", "-", name)
        self.shots = 0
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status} {response.request.method} {response.url}")

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" or "Content Security Policy" in text or "Refused to" in text:
            self.problems.append(f"console: {text} ({(message.location or {}).get('url')})")

    def sign_in(self) -> None:
        page = self.page
        page.goto(self.base + "/login")
        page.get_by_label("Email").fill(live.ADMIN[0])
        page.get_by_label("Password").fill(live.ADMIN[1])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/projects$"))

    def preview(self, pid: int, xml_form_id: str, query: str = "") -> None:
        """Sign in and open the form's preview."""
        self.sign_in()
        self.open_form(f"/projects/{pid}/forms/{xml_form_id}/preview{query}")

    def open_form(self, path: str) -> None:
        """Open a web-form page and wait until Web Forms shows the questions.

        Problems are counted from here on: the sign-in pages before are not web-form pages.
        """
        self.problems.clear()
        self.requests.clear()
        self.page.goto(self.base + path)
        self.page.locator(".odk-form").wait_for()

    def question(self, label: str) -> Any:
        """The container of the question whose label is `label` (the first one)."""
        exactly = re.compile(rf"^\s*{re.escape(label)}\s*$")
        return (
            self.page.locator(".question-container")
            .filter(has=self.page.locator(".control-text label", has_text=exactly))
            .first
        )

    def shot(self, name: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = self.folder / f"{self.name}-{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        overflow = self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px on a 390px phone"
        return path

    def foreign_requests(self) -> list[str]:
        """Requests that left the server: the page must make none."""
        own = ("data:", "blob:", self.base + "/")
        return [url for url in self.requests if not url.startswith(own)]

    def call(self, src: str, name: str, *args: Any) -> Any:
        """Call an export of the page's module (at URL `src`) in the browser, as the page does."""
        return self.page.evaluate(
            "async ([src, name, args]) => (await import(src))[name](...args)",
            [src, name, list(args)],
        )

    def send_to(self, submission_url: str) -> None:
        """Make the web-form page send to this OpenRosa URL (the preview page sends nowhere).

        Phase 2's respondent page renders data-submission-url itself; until it exists, the
        tests set the attribute as the page is parsed, before the page's module runs.
        """
        self.context.add_init_script(script=f"({_SUBMIT_TO})({json.dumps(submission_url)})")

    def offline_ready(self) -> None:
        """Wait until the service worker has kept the page, the form and its media."""
        self.page.wait_for_function("() => document.documentElement.dataset.offline === 'ready'")


@pytest.fixture
def phones(chromium: Any, server: live.Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Make phones: phones(**options) with Playwright's browser-context options."""
    contexts: list[Any] = []

    def make(**options: Any) -> Phone:
        context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, **options)
        contexts.append(context)
        return Phone(context, server.url, f"{request.node.name}-{len(contexts)}")

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def page_module(
    chromium: Any, server: live.Server, site: Site, bundle: assets.Bundle
) -> Iterator[Any]:
    """Call an export of the page's module in a web-form page: page_module(name, *args)."""
    pid, fid = site.site_check("Page module")
    context = chromium.new_context(viewport=PHONE)
    phone = Phone(context, server.url, "page-module")
    phone.preview(pid, fid)
    yield lambda name, *args: phone.call(bundle.js, name, *args)
    context.close()


@pytest.fixture
def phone(phones: Any) -> Phone:
    """A phone browser, signed in nowhere yet."""
    found: Phone = phones()
    return found


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: end-to-end test in headless Chromium")
