"""Who is asking: the actor behind a request's bearer token or browser session."""

from __future__ import annotations

from flask import g, request

from collect.domain import users
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
