"""Sign-in, bearer tokens, expiry and revocation, as pyodk uses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
            users.create("real@example.org", "a long production password")
            stored = db.session.scalar(select(User.password_hash))
        assert stored is not None and stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        response = production.test_client().post(
            "/v1/sessions",
            json={"email": "real@example.org", "password": "a long production password"},
        )
        assert response.status_code == 200
    finally:
        with production.app_context():
            db.engine.dispose()


def test_an_actor_ends_only_its_own_sessions(app, admin: Api, client) -> None:
    from tests.conftest import make_user

    _, eva = make_user(app, client, "eva@example.org")
    _, ben = make_user(app, app.test_client(), "ben@example.org")
    # Another user's live token, and a token that is no session at all, are refused alike.
    refused = eva.delete(f"/v1/sessions/{ben.token}")
    assert refused.status_code == 403
    assert "only your own sessions" in refused.get_json()["message"]
    assert eva.delete("/v1/sessions/not-a-token").get_json() == refused.get_json()
    assert ben.get("/v1/users/current").status_code == 200
    # A site admin may end anyone's; the user may end their own.
    assert admin.delete(f"/v1/sessions/{ben.token}").status_code == 200
    assert ben.get("/v1/users/current").status_code == 401
    assert eva.delete(f"/v1/sessions/{eva.token}").get_json() == {"success": True}
    assert eva.get("/v1/users/current").status_code == 401


def test_delete_current_ends_the_callers_session(admin: Api, client, project: int) -> None:
    other = sign_in_again(client)
    response = admin.delete("/v1/sessions/current")
    assert response.status_code == 200
    assert response.get_json() == {"success": True}
    assert admin.get("/v1/users/current").status_code == 401
    assert other.get("/v1/users/current").status_code == 200  # only that session ended
    assert admin.delete("/v1/sessions/current").status_code == 401
    # An app user's key is not a session it may end (Central answers 403 too).
    device = other.post(f"/v1/projects/{project}/app-users", json={"displayName": "Tablet"})
    key = Api(client, device.get_json()["token"])
    assert key.delete("/v1/sessions/current").status_code == 403


def test_delete_current_with_the_browser_cookie_signs_it_out(app, admin: Api) -> None:
    from collect.web.cookies import COOKIE
    from tests.pages.conftest import signed_in

    browser = signed_in(app, ADMIN_EMAIL, ADMIN_PASSWORD)
    forged = browser.client.delete("/v1/sessions/current")
    assert forged.status_code == 403  # a cookie alone needs the CSRF header to change anything
    response = browser.client.delete("/v1/sessions/current", headers={"X-CSRF-Token": browser.csrf})
    assert response.status_code == 200
    assert any(c.startswith(f"{COOKIE}=;") for c in response.headers.getlist("Set-Cookie"))
    assert browser.get("/projects").status_code == 302


def sign_in_again(client) -> Api:
    from tests.helpers import sign_in

    return sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)


def test_the_access_log_masks_session_tokens(tmp_path) -> None:
    """Through gunicorn and its access log, as `collect serve` writes it."""
    import http.client
    import json

    from tests import live

    with live.serve(tmp_path, None, workers=1) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

        def call(method: str, path: str, body: Any = None, token: str | None = None) -> Any:
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            connection.request(method, path, json.dumps(body) if body else None, headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")

        email, password = live.ADMIN
        _, first = call("POST", "/v1/sessions", {"email": email, "password": password})
        _, second = call("POST", "/v1/sessions", {"email": email, "password": password})
        assert call("DELETE", f"/v1/sessions/{first['token']}", token=second["token"])[0] == 200
        assert call("DELETE", "/v1/sessions/current", token=second["token"])[0] == 200
        connection.close()
    log = (tmp_path / "server.log").read_text()
    assert first["token"] not in log and second["token"] not in log
    assert '"DELETE /v1/sessions/[token] HTTP/1.1" 200' in log
    assert '"DELETE /v1/sessions/current HTTP/1.1" 200' in log
