"""Who is asking: the actor behind a request's bearer token or browser session."""

from __future__ import annotations

import base64
import binascii

from flask import g, request

from collect.domain.people import basic_auth, throttle, users
from collect.errors import Unauthorized
from collect.storage.models import Actor
from collect.web import cookies


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def current_actor() -> Actor:
    """The authenticated actor; 401 when the request carries no valid credentials."""
    cached: Actor | None = g.get("actor")
    if cached is not None:
        return cached
    token = bearer_token()
    actor = users.actor_for(token) if token else None
    if token is None and cookies.token() is not None:
        actor = _cookie_actor()
    if actor is None:
        raise Unauthorized(
            "Sign in first: send 'Authorization: Bearer <token>' from POST /v1/sessions."
            if token is None
            else "The session has expired or was ended: sign in again."
        )
    g.actor = actor
    return actor


def basic_credentials() -> tuple[str, str] | None:
    """Email and password from `Authorization: Basic ...`, or None when another scheme is used."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as e:
        raise Unauthorized("The Basic credentials could not be read.") from e
    email, colon, password = decoded.partition(":")
    if not colon:
        raise Unauthorized("The Basic credentials could not be read.")
    return email, password


def reading_actor() -> Actor:
    """The actor of a read-only feed: a bearer token, a browser session, or HTTP Basic.

    Excel and Power BI can only send an email and password (HTTP Basic), as to ODK Central.
    Basic is accepted here, on GET feeds, and nowhere else: a browser remembers Basic
    credentials and sends them by itself, which must never be enough to change anything.
    """
    credentials = basic_credentials()
    if credentials is None:
        return current_actor()
    cached: Actor | None = g.get("actor")
    if cached is None:
        email, password = credentials
        cached = basic_auth.verify(email, password, client=sign_in_client()).actor
        g.actor = cached
    return cached


def sign_in_client() -> throttle.Client:
    """Who is trying a password: the client's address and its device cookie.

    `remote_addr` is the peer's address, or the proxy's X-Forwarded-For when the app is set to
    trust its proxy (COLLECT_TRUST_PROXY, werkzeug's ProxyFix in create_app): a header that
    anyone can send is believed only then.
    """
    return throttle.Client(address=request.remote_addr, device=cookies.device())


def _cookie_actor() -> Actor | None:
    """A browser signed in on the pages may use the API too (links to exports, for example).

    Only web-user sessions count, and anything but GET/HEAD/OPTIONS must carry the session's
    CSRF token in X-CSRF-Token, as ODK Central asks of its own frontend.
    """
    session = cookies.session()
    if session is None:
        return None
    cookies.check_header_csrf(session)
    return cookies.actor()
