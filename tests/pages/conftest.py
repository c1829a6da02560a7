"""Fixtures for the web pages: browsers (test clients with cookies) signed in as each role."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from collect.domain.people import users
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    """A test client that behaves like a browser on the pages: cookies and CSRF fields."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, path: str, **kw: Any) -> TestResponse:
        response = self.client.get(path, **kw)
        if match := _CSRF.search(response.get_data(as_text=True)):
            self.csrf = match.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> TestResponse:
        """POST a form with the page's CSRF token (unless `data` brings its own)."""
        fields = {"csrf": self.csrf, **(data or {})}
        return self.client.post(path, data=fields, **kw)

    def sign_in(self, email: str, password: str) -> TestResponse:
        self.get("/login")
        return self.post("/login", {"email": email, "password": password})

    def text(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, (response.status_code, path)
        return response.get_data(as_text=True)


def signed_in(app: Flask, email: str, password: str) -> Browser:
    browser = Browser(app.test_client())
    response = browser.sign_in(email, password)
    assert response.status_code == 303, response.get_data(as_text=True)
    browser.get("/projects")
    return browser


@pytest.fixture
def browser(app: Flask) -> Browser:
    """A browser that is not signed in."""
    return Browser(app.test_client())


@pytest.fixture
def admin_page(app: Flask, admin: Any) -> Browser:
    """The site admin, signed in on the pages (the `admin` fixture created the account)."""
    return signed_in(app, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def person(app: Flask) -> Any:
    """Create a web user and return a browser signed in as them: person(email) -> Browser."""

    def _make(email: str, password: str = "a long password") -> Browser:
        with app.app_context():
            users.create(email, password)
        return signed_in(app, email, password)

    return _make


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: end-to-end test in headless Chromium")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.pages.live import SCREENSHOTS

    if SCREENSHOTS.exists() and any(SCREENSHOTS.rglob("*.png")):
        terminalreporter.write_line(f"Screenshots of the pages: {SCREENSHOTS}/")
