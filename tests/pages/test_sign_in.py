"""Signing in and out on the pages: the cookie, wrong passwords, the pause, CSRF, app users."""

from __future__ import annotations

from typing import Any

from flask import Flask

from collect.web.cookies import COOKIE, DEVICE_COOKIE
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.pages.conftest import Browser


def test_pages_send_visitors_to_sign_in(browser: Browser) -> None:
    assert browser.get("/").headers["Location"].endswith("/login")
    response = browser.get("/projects/1?x=1")
    assert response.status_code == 302
    assert "/login?next=/projects/1?x%3D1" in response.headers["Location"]


def test_sign_in_sets_a_safe_cookie(browser: Browser, admin: Any) -> None:
    page = browser.get("/login").get_data(as_text=True)
    assert '<label for="email">Email</label>' in page
    assert '<label for="password">Password</label>' in page
    response = browser.post("/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/projects")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests
    assert browser.get("/projects").status_code == 200


def test_cookie_is_secure_over_https(app: Flask, admin: Any) -> None:
    browser = Browser(app.test_client())
    browser.get("/login", base_url="https://localhost")
    response = browser.post(
        "/login",
        {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        base_url="https://localhost",
    )
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE))
    assert "Secure" in cookie


def test_sign_in_goes_back_to_the_page_asked_for(browser: Browser, admin: Any) -> None:
    browser.get("/login?next=/users")
    response = browser.post(
        "/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "/users"}
    )
    assert response.headers["Location"].endswith("/users")


def test_sign_in_never_redirects_off_site(browser: Browser, admin: Any) -> None:
    browser.get("/login")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        browser.client.delete_cookie(COOKIE)
        browser.get("/login")
        response = browser.post(
            "/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": target}
        )
        assert response.headers["Location"].endswith("/projects"), target


def test_wrong_password_is_a_clear_sentence(browser: Browser, admin: Any) -> None:
    browser.get("/login")
    response = browser.post("/login", {"email": ADMIN_EMAIL, "password": "not it"})
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "The email or password is not right" in page
    assert f'value="{ADMIN_EMAIL}"' in page  # the email stays filled in
    assert COOKIE not in response.headers.get("Set-Cookie", "")


def test_five_failures_pause_that_browser_and_say_how_long(app: Flask, admin: Any) -> None:
    attacker = Browser(app.test_client())
    attacker.client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    attacker.get("/login")
    for _ in range(4):
        failed = attacker.post("/login", {"email": ADMIN_EMAIL, "password": "guess"})
        assert failed.status_code == 401
        assert "after 5 failed attempts" in failed.get_data(as_text=True)
    fifth = attacker.post("/login", {"email": ADMIN_EMAIL, "password": "guess"})
    assert fifth.status_code == 429
    assert 14 * 60 < int(fifth.headers["Retry-After"]) <= 15 * 60
    assert "wait 15 minutes, then try again" in fifth.get_data(as_text=True)
    # The owner, in another browser elsewhere, signs in; the browser keeps a device cookie.
    owner = Browser(app.test_client())
    owner.client.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    assert owner.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 303
    device = owner.client.get_cookie(DEVICE_COOKIE)
    assert device is not None and device.http_only


def test_sign_in_without_the_form_token_is_refused(browser: Browser, admin: Any) -> None:
    browser.get("/login")
    response = browser.post(
        "/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf": "forged"}
    )
    assert response.status_code == 403
    assert "Open the page again" in response.get_data(as_text=True)


def test_app_users_cannot_sign_in(browser: Browser, admin: Any, project: int) -> None:
    device = admin.post(f"/v1/projects/{project}/app-users", json={"displayName": "Tab"})
    token = device.get_json()["token"]
    browser.get("/login")
    for email, password in (("Tab", token), (token, token)):
        response = browser.post("/login", {"email": email, "password": password})
        assert response.status_code == 401
    # Nor does the key work as a cookie or a bearer token on the pages.
    browser.client.set_cookie(COOKIE, token)
    assert browser.get("/projects").status_code == 302
    browser.client.delete_cookie(COOKIE)
    response = browser.get("/projects", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 302


def test_sign_out_ends_the_session(admin_page: Browser) -> None:
    assert admin_page.get("/projects").status_code == 200
    cookie = admin_page.client.get_cookie(COOKIE)
    assert cookie is not None
    token = cookie.value
    response = admin_page.post("/logout")
    assert response.status_code == 303
    assert "notice=signed-out" in response.headers["Location"]
    assert "You are signed out." in admin_page.text(response.headers["Location"])
    # The old token is dead even if someone kept it.
    admin_page.client.set_cookie(COOKIE, token)
    assert admin_page.get("/projects").status_code == 302


def test_the_api_accepts_the_cookie_for_reading_only_without_csrf(admin_page: Browser) -> None:
    client = admin_page.client
    assert client.get("/v1/users/current").get_json()["email"] == ADMIN_EMAIL
    refused = client.post("/v1/projects", json={"name": "Forged"})
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.get_json()["message"]
    allowed = client.post(
        "/v1/projects", json={"name": "Real"}, headers={"X-CSRF-Token": admin_page.csrf}
    )
    assert allowed.status_code == 200


def test_bearer_tokens_still_work_on_the_api(admin: Any) -> None:
    assert admin.get("/v1/users/current").status_code == 200
    assert admin.post("/v1/projects", json={"name": "By token"}).status_code == 200
