"""Sign-in, bearer tokens, expiry and revocation, as pyodk uses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from collect import config, create_app
from collect.domain.people import users
from collect.storage.db import db
from collect.storage.models import Session, User
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import Api


def test_sign_in_returns_a_token_that_opens_the_api(admin: Api) -> None:
    me = admin.get("/v1/users/current")
    assert me.status_code == 200
    body = me.get_json()
    assert body["email"] == ADMIN_EMAIL
    assert body["type"] == "user"
    assert set(body) >= {"id", "displayName", "createdAt", "updatedAt", "deletedAt"}


def test_session_json_has_expiry_and_token_is_stored_hashed(app, client) -> None:
    with app.app_context():
        users.create("ana@example.org", "a long password")
    response = client.post(
        "/v1/sessions", json={"email": "ana@example.org", "password": "a long password"}
    )
    body = response.get_json()
    assert response.status_code == 200
    expires = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
    with app.app_context():
        stored = db.session.scalars(select(Session.token_hash)).all()
    assert body["token"] not in stored
    assert len(stored) == 1 and len(stored[0]) == 64


def test_wrong_password_and_unknown_email_answer_the_same(app, client) -> None:
    with app.app_context():
        users.create("ana@example.org", "a long password")
    wrong = client.post("/v1/sessions", json={"email": "ana@example.org", "password": "nope"})
    unknown = client.post("/v1/sessions", json={"email": "who@example.org", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()


def test_missing_fields_are_a_clear_400(client) -> None:
    response = client.post("/v1/sessions", json={"email": "ana@example.org"})
    assert response.status_code == 400
    assert "password" in response.get_json()["message"]


def test_no_token_and_bad_token_are_401(client) -> None:
    assert client.get("/v1/users/current").status_code == 401
    bad = client.get("/v1/users/current", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    assert "sign in" in bad.get_json()["message"].lower()


def test_logout_revokes_the_token(admin: Api) -> None:
    assert admin.token is not None
    assert admin.delete(f"/v1/sessions/{admin.token}").status_code == 200
    assert admin.get("/v1/users/current").status_code == 401


def test_expired_session_is_refused(app, admin: Api) -> None:
    with app.app_context():
        for session in db.session.scalars(select(Session)):
            session.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    assert admin.get("/v1/users/current").status_code == 401


def test_set_password_ends_sessions(app, admin: Api, client) -> None:
    with app.app_context():
        users.set_password(ADMIN_EMAIL, "another long password")
    assert admin.get("/v1/users/current").status_code == 401
    assert (
        client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    ).status_code == 401


def test_admin_creates_and_lists_users(admin: Api) -> None:
    created = admin.post(
        "/v1/users", json={"email": "eva@example.org", "password": "a long password"}
    )
    assert created.status_code == 200
    assert created.get_json()["email"] == "eva@example.org"
    emails = [u["email"] for u in admin.get("/v1/users").get_json()]
    assert emails == [ADMIN_EMAIL, "eva@example.org"]
    again = admin.post("/v1/users", json={"email": "eva@example.org"})
    assert again.status_code == 409
    short = admin.post("/v1/users", json={"email": "x@example.org", "password": "short"})
    assert short.status_code == 400 and "10 characters" in short.get_json()["message"]


def test_non_admin_cannot_create_users(app, client) -> None:
    from tests.conftest import make_user

    _, eva = make_user(app, client, "eva@example.org")
    assert eva.get("/v1/users").status_code == 403
    assert eva.post("/v1/users", json={"email": "x@example.org"}).status_code == 403


def test_production_password_hashing_is_argon2id_at_64_mib(app_config) -> None:
    """The real parameters (the other tests use cheap ones): stored hash, and sign-in with it."""
    production = create_app({**app_config, "PASSWORD_HASHING": config.PASSWORD_HASHING})
    try:
        with production.app_context():
            users.create("real@example.org", "a long real password")
            stored = db.session.scalar(select(User.password_hash))
        assert stored is not None and stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        response = production.test_client().post(
            "/v1/sessions", json={"email": "real@example.org", "password": "a long real password"}
        )
        assert response.status_code == 200
    finally:
        with production.app_context():
            db.engine.dispose()
