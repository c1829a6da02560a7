"""Who may open which page and send which form; every POST form needs the CSRF token."""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import form_bytes
from tests.pages.conftest import Browser

FORM = "training_pretest"


@dataclass
class Setup:
    pid: int
    aid: int
    by_role: dict[str, Browser]


@pytest.fixture
def setup(admin: Any, admin_page: Browser, project: int, publish: Any, person: Any) -> Setup:
    """A project with a published form and an app user; a manager, a viewer and an outsider."""
    publish(FORM)
    aid = admin.post(f"/v1/projects/{project}/app-users", json={"displayName": "Tab"}).get_json()[
        "id"
    ]
    manager = person("manager@example.org")
    viewer = person("viewer@example.org")
    outsider = person("outsider@example.org")
    for browser, email, role in (
        (manager, "manager@example.org", "manager"),
        (viewer, "viewer@example.org", "viewer"),
    ):
        added = admin_page.post(f"/projects/{project}/members", {"email": email, "role": role})
        assert added.status_code == 303, added.get_data(as_text=True)
        browser.get(f"/projects/{project}")
    return Setup(
        project,
        aid,
        {"admin": admin_page, "manager": manager, "viewer": viewer, "outsider": outsider},
    )


# (path, admin, manager, viewer, outsider)
PAGES = [
    ("/projects", 200, 200, 200, 200),
    ("/projects/{pid}", 200, 200, 200, 404),
    ("/projects/{pid}/forms/new", 200, 200, 403, 404),
    ("/projects/{pid}/app-users/{aid}", 200, 200, 403, 404),
    ("/projects/{pid}/forms/" + FORM, 200, 200, 200, 404),
    ("/projects/{pid}/forms/" + FORM + "/draft", 200, 200, 403, 404),
    ("/users", 200, 403, 403, 403),
]
ROLES = ("admin", "manager", "viewer", "outsider")


@pytest.mark.parametrize(("path", "statuses"), [(p[0], p[1:]) for p in PAGES], ids=lambda x: x)
def test_who_may_open_each_page(setup: Setup, path: str, statuses: tuple[int, ...]) -> None:
    url = path.format(pid=setup.pid, aid=setup.aid)
    for role, expected in zip(ROLES, statuses, strict=True):
        response = setup.by_role[role].get(url)
        assert response.status_code == expected, (role, url, response.status_code)
        page = response.get_data(as_text=True)
        assert "Traceback" not in page
        if expected == 403:
            assert "Not allowed" in page
            assert "Go to your projects" in page
        if expected == 404:
            assert "Not found" in page


def test_viewer_sees_no_upload_or_app_users(setup: Setup) -> None:
    page = setup.by_role["viewer"].text(f"/projects/{setup.pid}")
    assert "Upload a form" not in page
    assert "App users" not in page
    assert "Create app user" not in page
    manager_page = setup.by_role["manager"].text(f"/projects/{setup.pid}")
    assert "Upload a form" in manager_page
    assert "Create app user" in manager_page


def _posts(setup: Setup) -> list[tuple[str, dict[str, Any]]]:
    pid, aid = setup.pid, setup.aid
    return [
        ("/projects", {"name": "Another"}),
        (f"/projects/{pid}/members", {"email": "outsider@example.org", "role": "viewer"}),
        (f"/projects/{pid}/app-users", {"display_name": "Phone"}),
        (f"/projects/{pid}/app-users/{aid}/forms/{FORM}", {}),
        (f"/projects/{pid}/app-users/{aid}/revoke", {}),
        (f"/projects/{pid}/forms/{FORM}/state", {"state": "closed"}),
        (f"/projects/{pid}/forms/{FORM}/draft", {"from_published": "yes"}),
        (f"/projects/{pid}/forms/{FORM}/draft/publish", {}),
        ("/users", {"email": "new@example.org", "password": "long enough pw"}),
    ]


def test_viewer_cannot_change_anything(setup: Setup) -> None:
    viewer = setup.by_role["viewer"]
    for path, data in _posts(setup):
        response = viewer.post(path, data)
        assert response.status_code == 403, (path, response.status_code)
    upload = viewer.post(
        f"/projects/{setup.pid}/forms/new",
        {"file": (io.BytesIO(form_bytes("training_posttest")), "training_posttest.xlsx")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 403


def test_every_post_needs_the_csrf_token(setup: Setup) -> None:
    admin = setup.by_role["admin"]
    for path, data in [
        *_posts(setup),
        (f"/projects/{setup.pid}/forms/new", {}),
        ("/logout", {}),
    ]:
        for token in ("", "forged"):
            response = admin.post(path, {**data, "csrf": token})
            assert response.status_code == 403, (path, token, response.status_code)
            assert "Open the page again" in response.get_data(as_text=True)
    # Nothing happened: the app user is still there and the form still open.
    assert "Revoke Tab" in admin.text(f"/projects/{setup.pid}/app-users/{setup.aid}")
    assert "badge open" in admin.text(f"/projects/{setup.pid}/forms/{FORM}")


def test_a_post_after_the_session_ended_asks_to_sign_in(browser: Browser) -> None:
    browser.get("/login")
    response = browser.post("/projects", {"name": "x"})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_manager_manages_members(setup: Setup) -> None:
    manager = setup.by_role["manager"]
    added = manager.post(
        f"/projects/{setup.pid}/members", {"email": "outsider@example.org", "role": "viewer"}
    )
    assert added.status_code == 303
    page = manager.text(f"/projects/{setup.pid}")
    assert "outsider@example.org" in page
    assert setup.by_role["outsider"].get(f"/projects/{setup.pid}").status_code == 200
    unknown = manager.post(
        f"/projects/{setup.pid}/members", {"email": "nobody@example.org", "role": "viewer"}
    )
    assert unknown.status_code == 404
    assert "There is no user with the email nobody@example.org" in unknown.get_data(as_text=True)
    removed = manager.post(
        f"/projects/{setup.pid}/members/{_actor(setup, 'outsider')}/viewer/remove"
    )
    assert removed.status_code == 303
    assert setup.by_role["outsider"].get(f"/projects/{setup.pid}").status_code == 404


def _actor(setup: Setup, role: str) -> int:
    current = setup.by_role[role].client.get("/v1/users/current").get_json()
    actor_id: int = current["id"]
    return actor_id


def test_unknown_pages_and_crashes_are_sentences(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = setup.by_role["admin"]
    missing = admin.get(f"/projects/{setup.pid}/forms/nope")
    assert missing.status_code == 404
    assert "There is no form 'nope' in this project." in html.unescape(missing.get_data(True))

    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    from collect.web.pages import data as pages_data

    monkeypatch.setattr(pages_data, "project_page", explode)
    crashed = admin.get(f"/projects/{setup.pid}")
    assert crashed.status_code == 500
    page = crashed.get_data(as_text=True)
    assert "Something went wrong on the server" in page
    assert "boom" not in page
    assert "Traceback" not in page


def test_pages_send_protective_headers(setup: Setup) -> None:
    response = setup.by_role["admin"].get(f"/projects/{setup.pid}")
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
