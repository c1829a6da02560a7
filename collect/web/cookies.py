"""The browser session: a cookie holding the token from users.login, and its CSRF token.

The cookie is HttpOnly (scripts cannot read it), SameSite=Lax (other sites cannot make the
browser send it with a POST) and Secure whenever the request came over https. Every POST form
also carries the session's CSRF token in a hidden field, checked here, as a second line of
defence; the sign-in form, which has no session yet, uses a double-submit cookie instead.

A third cookie, the device cookie, says that this browser (or API client) signed in with an
email before; it opens nothing, but exempts the client from the sign-in limits that others'
failures set (domain/people/throttle.py), and it outlives sign-out for that reason.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta

from flask import Flask, Response, g, request
from flask.sessions import NullSession, SessionInterface
from flask.wrappers import Request

from collect.domain.people import users
from collect.errors import CsrfRefused, Unauthorized
from collect.storage.models import Actor, Session

COOKIE = "collect_session"
LOGIN_CSRF_COOKIE = "collect_login_csrf"
DEVICE_COOKIE = "collect_device"
DEVICE_DAYS = 365
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NoFlaskSession(SessionInterface):
    """Flask's own signed-cookie session is not used: the sign-in cookie above is ours.

    Without this, Flask builds a cookie signer and reads the session cookie on every request,
    a phone's included; the null session also makes any accidental use of `flask.session` fail.
    """

    def open_session(self, app: Flask, request: Request) -> NullSession:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: object, response: Response) -> None:
        return None


def token() -> str | None:
    """The session token the browser sent, if any."""
    value = request.cookies.get(COOKIE, "").strip()
    return value or None


def device() -> str | None:
    """The device cookie the client sent, if any (checked against the email by the domain)."""
    return request.cookies.get(DEVICE_COOKIE) or None


def remember_device(response: Response, email: str) -> None:
    """Give a client that has just signed in a new device cookie for this email."""
    expires = datetime.now(UTC) + timedelta(days=DEVICE_DAYS)
    _set(response, DEVICE_COOKIE, users.device_cookie(email), expires=expires)


def session() -> Session | None:
    """The live web-user session behind the cookie (never an app user's key)."""
    if "cookie_session" not in g:
        value = token()
        g.cookie_session = users.session_for(value) if value else None
    found: Session | None = g.cookie_session
    return found


def actor() -> Actor | None:
    """The signed-in web user's actor, or None when the browser is not signed in."""
    current = session()
    value = token()
    if current is None or value is None:
        return None
    found = users.actor_for(value)
    if found is None or found.type != "user":
        return None
    return found


def require_actor() -> Actor:
    """The signed-in web user; Unauthorized (sign in) otherwise."""
    found = actor()
    if found is None:
        raise Unauthorized("Sign in to continue.")
    return found


def csrf_token() -> str:
    """The token a page puts in its POST forms' hidden `csrf` field."""
    current = session()
    if current is not None:
        return current.csrf
    return login_csrf()


def login_csrf() -> str:
    """The sign-in form's token: the cookie's value, or a new one set on the response."""
    if "login_csrf" not in g:
        g.login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    value: str = g.login_csrf
    return value


def check_form_csrf() -> None:
    """Refuse a POST whose hidden field does not carry the signed-in session's token."""
    current = session()
    sent = request.form.get(CSRF_FIELD, "")
    if current is None or not _same(sent, current.csrf):
        raise CsrfRefused(_REFUSED)


def check_login_csrf() -> None:
    """Refuse a sign-in POST whose field and cookie differ (a forged sign-in)."""
    sent = request.form.get(CSRF_FIELD, "")
    if not _same(sent, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        raise CsrfRefused(_REFUSED)


def check_header_csrf(current: Session) -> None:
    """For the JSON API with a cookie session: non-GET requests must send X-CSRF-Token."""
    if request.method in SAFE_METHODS:
        return
    if not _same(request.headers.get(CSRF_HEADER, ""), current.csrf):
        raise CsrfRefused(
            "Requests signed in with the browser's cookie must send the session's CSRF token "
            f"in the {CSRF_HEADER} header; API clients should send 'Authorization: Bearer'."
        )


_REFUSED = (
    "The page you sent this from is out of date or was not opened from this site. "
    "Open the page again and repeat what you did."
)


def _same(sent: str, expected: str) -> bool:
    return bool(sent) and bool(expected) and hmac.compare_digest(sent, expected)


def remember(response: Response, value: str, current: Session) -> None:
    """Put a new session's token in the cookie, until the session expires."""
    expires = current.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    _set(response, COOKIE, value, expires=expires)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")


def forget(response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(COOKIE, path="/", secure=request.is_secure, httponly=True)


def set_login_csrf(response: Response) -> None:
    """Send the sign-in form's token cookie if this request made a new one."""
    if "login_csrf" in g and request.cookies.get(LOGIN_CSRF_COOKIE) != g.login_csrf:
        _set(response, LOGIN_CSRF_COOKIE, g.login_csrf, expires=None)


def _set(response: Response, name: str, value: str, *, expires: datetime | None) -> None:
    response.set_cookie(
        name,
        value,
        expires=expires,
        path="/",
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
