"""Who is asking: the actor behind a request's bearer token or browser session."""

from __future__ import annotations

from flask import g, request

from collect.domain import users
from collect.errors import Unauthorized
from collect.storage.models import Actor


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
    if actor is None:
        raise Unauthorized(
            "Sign in first: send 'Authorization: Bearer <token>' from POST /v1/sessions."
            if token is None
            else "The session has expired or was ended: sign in again."
        )
    g.actor = actor
    return actor
