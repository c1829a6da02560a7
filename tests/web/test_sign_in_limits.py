"""Limits on failed sign-ins: they slow an attacker down and never lock the owner out.

Each client is a test client of its own (its own cookies) at an address of its own, as
`REMOTE_ADDR` (or X-Forwarded-For behind a trusted proxy) gives it.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from collect import create_app
from collect.domain.people import users
from collect.storage.db import db
from collect.storage.models import LoginAttempt
from collect.web.cookies import DEVICE_COOKIE
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import Api

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


def at(app: Flask, address: str) -> FlaskClient:
    """A new client (no cookies) at this address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def sign_in(client: FlaskClient, email: str, password: str, **kw: Any) -> TestResponse:
    return client.post("/v1/sessions", json={"email": email, "password": password}, **kw)


def basic(email: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def backdate(app: Flask, seconds: float) -> None:
    """Let time pass for the failures written so far."""
    with app.app_context():
        for attempt in db.session.scalars(select(LoginAttempt)):
            attempt.attempted_at -= timedelta(seconds=seconds)  # in Python: SQLite has no dates
        db.session.commit()


def paused(response: TestResponse) -> int:
    """The Retry-After of a 429, checked to be one."""
    assert response.status_code == 429, response.get_json()
    return int(response.headers["Retry-After"])


def test_five_failures_pause_the_attacker_not_the_owner(app: Flask, admin: Api) -> None:
    attacker = at(app, ATTACKER)
    for _ in range(4):
        assert sign_in(attacker, ADMIN_EMAIL, "guess").status_code == 401
    fifth = sign_in(attacker, ADMIN_EMAIL, "guess")
    assert 14 * 60 < paused(fifth) <= 15 * 60
    assert "wait 15 minutes" in fifth.get_json()["message"]
    assert fifth.get_json()["code"] == 429.1
    # From the attacker's client, even the right password waits: it may have been guessed.
    assert paused(sign_in(attacker, ADMIN_EMAIL, ADMIN_PASSWORD)) > 60
    # The owner, from anywhere else, signs in at once.
    assert sign_in(at(app, OWNER), ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200


def test_a_client_that_signed_in_before_is_not_paused(app: Flask, admin: Api) -> None:
    office = "192.0.2.10"  # the owner and the attacker behind the same address
    owner = at(app, office)
    first = sign_in(owner, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert first.status_code == 200
    cookie = owner.get_cookie(DEVICE_COOKIE)
    assert cookie is not None and cookie.http_only and cookie.expires is not None
    attacker = at(app, office)
    for _ in range(4):
        assert sign_in(attacker, ADMIN_EMAIL, "guess").status_code == 401
    paused(sign_in(attacker, ADMIN_EMAIL, "guess"))
    assert paused(sign_in(at(app, office), ADMIN_EMAIL, ADMIN_PASSWORD)) > 0
    assert sign_in(owner, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
    # The cookie is signed for the email: the attacker's own cookie, or a forged one, is no help.
    with app.app_context():
        users.create("eve@example.org", "eve's own long password")
    assert sign_in(attacker, "eve@example.org", "eve's own long password").status_code == 200
    assert paused(sign_in(attacker, ADMIN_EMAIL, ADMIN_PASSWORD)) > 0
    forged = at(app, office)
    forged.set_cookie(DEVICE_COOKIE, cookie.value.split(".")[0] + ".forged")
    assert paused(sign_in(forged, ADMIN_EMAIL, ADMIN_PASSWORD)) > 0


def test_a_device_cookie_that_fails_too_often_is_no_longer_trusted(app: Flask, admin: Api) -> None:
    client = at(app, OWNER)
    assert sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
    assert client.get_cookie(DEVICE_COOKIE) is not None
    for _ in range(4):
        assert sign_in(client, ADMIN_EMAIL, "guess").status_code == 401
    paused(sign_in(client, ADMIN_EMAIL, "guess"))
    assert paused(sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)) > 60


def test_the_account_slows_down_but_never_locks(app: Flask, admin: Api) -> None:
    owner_browser = at(app, OWNER)
    assert sign_in(owner_browser, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
    # Nine addresses, one guess each: below every limit.
    for n in range(9):
        assert sign_in(at(app, f"203.0.113.{n + 1}"), ADMIN_EMAIL, "guess").status_code == 401
    # From the tenth failure on, each attempt waits after the last failure, twice as long
    # each time, up to a minute.
    waits = []
    for n in range(9, 18):
        waits.append(paused(sign_in(at(app, f"203.0.113.{n + 1}"), ADMIN_EMAIL, "guess")))
        fresh = sign_in(at(app, "198.51.100.99"), ADMIN_EMAIL, "guess")
        assert paused(fresh) == waits[-1]
        assert "slowed down" in fresh.get_json()["message"]
        backdate(app, waits[-1])
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    # The owner's usual client is not slowed down; a new one of theirs waits at most a minute.
    assert paused(sign_in(at(app, "198.51.100.30"), ADMIN_EMAIL, "guess")) == 60
    assert sign_in(owner_browser, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
    backdate(app, 60)
    assert sign_in(at(app, "198.51.100.31"), ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200


def test_one_password_sprayed_over_many_emails_is_throttled(app: Flask, admin: Api) -> None:
    sprayer = at(app, ATTACKER)
    for n in range(19):
        assert sign_in(sprayer, f"person{n}@example.org", "Summer2026!!").status_code == 401
    twentieth = sign_in(sprayer, "person19@example.org", "Summer2026!!")
    assert paused(twentieth) > 14 * 60
    assert "from your network" in twentieth.get_json()["message"]
    assert paused(sign_in(sprayer, "someone.else@example.org", "Summer2026!!")) > 0
    # X-Forwarded-For is not believed unless the app is told to trust its proxy.
    forged = sign_in(
        at(app, ATTACKER), "new@example.org", "x" * 12, headers={"X-Forwarded-For": "192.0.2.1"}
    )
    assert paused(forged) > 0
    # Other addresses are not affected.
    assert sign_in(at(app, OWNER), ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200


def test_an_ipv6_client_counts_by_its_network(app: Flask, admin: Api) -> None:
    for n in range(5):
        sign_in(at(app, f"2001:db8:1:2::{n + 1}"), ADMIN_EMAIL, "guess")
    assert paused(sign_in(at(app, "2001:db8:1:2:ffff::9"), ADMIN_EMAIL, ADMIN_PASSWORD)) > 0
    assert sign_in(at(app, "2001:db8:1:3::1"), ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_counts(
    app_config: dict[str, Any],
) -> None:
    proxied = create_app({**app_config, "TRUST_PROXY": True})
    try:
        with proxied.app_context():
            users.create(ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)

        def through_proxy(address: str, password: str) -> TestResponse:
            client = at(proxied, "127.0.0.1")  # every request comes from the proxy
            return sign_in(client, ADMIN_EMAIL, password, headers={"X-Forwarded-For": address})

        for _ in range(4):
            assert through_proxy(ATTACKER, "guess").status_code == 401
        paused(through_proxy(ATTACKER, "guess"))
        assert through_proxy(OWNER, ADMIN_PASSWORD).status_code == 200
    finally:
        with proxied.app_context():
            db.engine.dispose()


def test_basic_failures_on_the_feed_count_as_attempts(
    app: Flask, admin: Api, project: int, publish: Any
) -> None:
    feed = f"/v1/projects/{project}/forms/{publish('training_registration')}.svc"
    attacker = at(app, ATTACKER)
    for _ in range(4):
        assert attacker.get(feed, headers=basic(ADMIN_EMAIL, "guess")).status_code == 401
    fifth = attacker.get(feed, headers=basic(ADMIN_EMAIL, "guess"))
    assert paused(fifth) > 60
    assert paused(attacker.get(feed, headers=basic(ADMIN_EMAIL, ADMIN_PASSWORD))) > 60
    assert paused(sign_in(attacker, ADMIN_EMAIL, ADMIN_PASSWORD)) > 60
    owner = at(app, OWNER)
    assert owner.get(feed, headers=basic(ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
    assert sign_in(owner, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200


def test_a_refused_attempt_is_not_counted(app: Flask, admin: Api) -> None:
    """Attempts refused by a limit are not failures: they do not lengthen the pause."""
    attacker = at(app, ATTACKER)
    for _ in range(5):
        sign_in(attacker, ADMIN_EMAIL, "guess")
    for _ in range(20):
        paused(sign_in(attacker, ADMIN_EMAIL, "guess"))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 5
    backdate(app, 15 * 60)
    assert sign_in(attacker, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
