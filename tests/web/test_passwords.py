"""Passwords: which ones may be chosen, and what checking one may cost the server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from collect import config, create_app
from collect.domain.people import users
from collect.storage.db import db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import Api

EMAIL = "eva.marsh@example.org"


@pytest.mark.parametrize(
    ("password", "complaint"),
    [
        ("short one", "at least 10 characters"),
        (EMAIL, "must not contain the email address"),
        ("EVA.MARSH@example.org", "must not contain the email address"),
        ("my eva.marsh password", "the part before the @"),
        ("password1234", "one of the most common"),
        ("QwertyUiop", "one of the most common"),
        ("é" * 513, "at most 1,024 bytes"),
    ],
)
def test_a_weak_password_is_refused_with_what_to_choose(
    admin: Api, password: str, complaint: str
) -> None:
    response = admin.post("/v1/users", json={"email": EMAIL, "password": password})
    assert response.status_code == 400, response.get_json()
    assert complaint in response.get_json()["message"]
    assert "choose" in response.get_json()["message"].lower()
    assert EMAIL not in [u["email"] for u in admin.get("/v1/users").get_json()]


def test_good_passwords_are_accepted(admin: Api) -> None:
    for email, password in [
        (EMAIL, "marsh tide over the estuary"),
        ("li@example.org", "li and the long river"),  # a local part this short may appear
        ("ana@example.org", "é" * 512),  # exactly 1,024 bytes
    ]:
        response = admin.post("/v1/users", json={"email": email, "password": password})
        assert response.status_code == 200, (email, response.get_json())


def test_the_policy_applies_when_a_password_is_set_again(app: Flask, admin: Api) -> None:
    from collect.errors import BadRequest

    with app.app_context(), pytest.raises(BadRequest, match="most common"):
        users.set_password(ADMIN_EMAIL, "1234567890")
    assert admin.get("/v1/users/current").status_code == 200  # nothing changed


def test_pages_show_the_policy_sentence(app: Flask, admin: Any) -> None:
    from tests.pages.conftest import signed_in

    page = signed_in(app, ADMIN_EMAIL, ADMIN_PASSWORD)
    response = page.post("/users", {"email": EMAIL, "password": "eva.marsh-2026"})
    assert response.status_code == 400
    assert "must not contain the email address" in response.get_data(as_text=True)


@pytest.fixture
def production(app_config: dict[str, Any]) -> Iterator[Flask]:
    """The app with the real Argon2id parameters (the others use cheap ones)."""
    app = create_app(
        {
            **app_config,
            "PASSWORD_HASHING": config.PASSWORD_HASHING,
            "PASSWORD_CHECKS_AT_ONCE": 1,
            "PASSWORD_CHECK_WAIT_SECONDS": 0.05,
        }
    )
    with app.app_context():
        users.create(ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
    yield app
    with app.app_context():
        db.engine.dispose()


def timed(call: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def test_a_too_long_password_is_refused_before_hashing(production: Flask) -> None:
    client = production.test_client()
    ok, check = timed(
        lambda: client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": "wrong" * 3})
    )
    assert ok.status_code == 401
    assert check > 0.05, "the real parameters make one check cost a noticeable time"
    long, refused = timed(
        lambda: client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": "x" * 1025})
    )
    assert long.status_code == 401
    assert "at most 1,024 bytes" in long.get_json()["message"]
    assert refused < check / 5, (refused, check)
    # The 20 MB password that was once hashed: the body is refused before it is read.
    huge, refused = timed(
        lambda: client.post(
            "/v1/sessions", json={"email": ADMIN_EMAIL, "password": "x" * 20_000_000}
        )
    )
    assert huge.status_code == 413
    assert refused < check, (refused, check)
    # Over HTTP Basic (the feeds) as well.
    import base64

    header = base64.b64encode(f"{ADMIN_EMAIL}:{'x' * 2000}".encode()).decode()
    basic, refused = timed(
        lambda: client.get(
            "/v1/projects/1/forms/f.svc", headers={"Authorization": f"Basic {header}"}
        )
    )
    assert basic.status_code == 401
    assert refused < check / 5, (refused, check)


def test_concurrent_password_checks_are_capped(production: Flask) -> None:
    """One check at a time here: the others wait briefly, then hear to retry (503)."""
    start = threading.Barrier(4)
    answers: list[Any] = []

    def attempt() -> None:
        client = production.test_client()
        start.wait()
        response = client.post(
            "/v1/sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        answers.append((response.status_code, response.headers, response.get_json()))

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _, _ in answers)
    assert 200 in statuses and 503 in statuses, statuses
    for status, headers, body in answers:
        if status == 503:
            assert headers["Retry-After"] == "1"
            assert "busy checking other passwords" in body["message"]
            assert "does not count" in body["message"]
    # A refusal for want of a slot is not a failed attempt: signing in still works at once.
    response = production.test_client().post(
        "/v1/sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200
