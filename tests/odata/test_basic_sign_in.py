"""HTTP Basic on the feeds: a verified credential is not re-hashed on every request of a refresh,
and still stops working the moment the password changes or the user is deleted."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from collect import config, create_app
from collect.domain.people import users
from collect.storage.db import db
from collect.storage.models import Actor, User
from tests.helpers import Api

EMAIL = "analyst@example.org"
PASSWORD = "power query on mondays"


def basic(email: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


@pytest.fixture
def feed(admin: Api, project: int, publish: Any) -> str:
    return f"/v1/projects/{project}/forms/{publish('training_registration')}.svc/Submissions"


@pytest.fixture
def analyst(app: Flask) -> int:
    """A site admin who reads the feeds from Excel: every request carries the password."""
    with app.app_context():
        return users.create(EMAIL, PASSWORD, is_admin=True).actor_id


def test_a_new_password_ends_the_remembered_one(
    app: Flask, client: FlaskClient, feed: str, analyst: int
) -> None:
    for _ in range(3):
        assert client.get(feed, headers=basic(EMAIL, PASSWORD)).status_code == 200
    with app.app_context():
        users.set_password(EMAIL, "a brand new passphrase")
    refused = client.get(feed, headers=basic(EMAIL, PASSWORD))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get(feed, headers=basic(EMAIL, "a brand new passphrase")).status_code == 200


def test_a_deleted_user_is_refused_at_once(
    app: Flask, client: FlaskClient, feed: str, analyst: int
) -> None:
    assert client.get(feed, headers=basic(EMAIL, PASSWORD)).status_code == 200
    with app.app_context():
        db.session.execute(
            update(Actor).where(Actor.id == analyst).values(deleted_at=datetime.now(UTC))
        )
        db.session.commit()
    assert client.get(feed, headers=basic(EMAIL, PASSWORD)).status_code == 401


def test_a_changed_email_does_not_keep_the_old_one_working(
    app: Flask, client: FlaskClient, feed: str, analyst: int
) -> None:
    assert client.get(feed, headers=basic(EMAIL, PASSWORD)).status_code == 200
    with app.app_context():
        db.session.execute(
            update(User).where(User.actor_id == analyst).values(email="moved@example.org")
        )
        db.session.commit()
    assert client.get(feed, headers=basic(EMAIL, PASSWORD)).status_code == 401
    assert client.get(feed, headers=basic("moved@example.org", PASSWORD)).status_code == 200


@pytest.fixture
def production(app_config: dict[str, Any], feed: str) -> Iterator[Flask]:
    """The same database served with the real Argon2id parameters."""
    app = create_app({**app_config, "PASSWORD_HASHING": config.PASSWORD_HASHING})
    with app.app_context():
        users.create(EMAIL, PASSWORD, is_admin=True)
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_refresh_pays_for_one_password_check(production: Flask, feed: str) -> None:
    """The first request is checked with Argon2id; the next ones of the refresh are not."""
    client = production.test_client()
    start = time.perf_counter()
    assert client.get(feed, headers=basic(EMAIL, PASSWORD)).status_code == 200
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(10):
        assert client.get(feed, headers=basic(EMAIL, PASSWORD)).status_code == 200
    next_ten = time.perf_counter() - start
    assert next_ten < first, (first, next_ten)
    # A wrong password is never taken from what is remembered: it is checked, and fails.
    start = time.perf_counter()
    assert client.get(feed, headers=basic(EMAIL, PASSWORD + "!")).status_code == 401
    assert time.perf_counter() - start > first / 5


def test_remembering_can_be_turned_off(app_config: dict[str, Any], feed: str) -> None:
    app = create_app(
        {**app_config, "PASSWORD_HASHING": config.PASSWORD_HASHING, "BASIC_AUTH_SECONDS": 0}
    )
    try:
        with app.app_context():
            users.create(EMAIL, PASSWORD, is_admin=True)
        client = app.test_client()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            assert client.get(feed, headers=basic(EMAIL, PASSWORD)).status_code == 200
            times.append(time.perf_counter() - start)
        assert min(times) > max(times) / 5, times  # each one hashed
    finally:
        with app.app_context():
            db.engine.dispose()
