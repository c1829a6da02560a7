"""Web users, their passwords and their bearer sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from collect.domain.people import access, audits, passwords, throttle
from collect.errors import AlreadyExists, BadRequest, Forbidden, NotFound, Unauthorized
from collect.storage.db import db
from collect.storage.models import Actor, AppUser, Session, User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
FAILED = "Could not sign in with that email and password."


def _normalise(email: str) -> str:
    return email.strip().lower()


def create(
    email: str, password: str | None, *, is_admin: bool = False, display_name: str | None = None
) -> User:
    """Create a web user; a None password makes an account that cannot sign in yet."""
    email = _normalise(email)
    if not _EMAIL.match(email):
        raise BadRequest(f"'{email}' is not an email address.")
    if password is not None:
        passwords.check_new(password, email)
    if db.session.scalar(select(User).where(User.email == email)) is not None:
        raise AlreadyExists(f"A user with the email {email} already exists.")
    actor = Actor(type="user", display_name=display_name or email)
    user = User(
        actor=actor,
        email=email,
        password_hash=passwords.hash(password) if password else None,
        is_admin=is_admin,
    )
    db.session.add(user)
    audits.log(None, "user.create", email, admin=is_admin)
    db.session.commit()
    return user


def all_users() -> list[User]:
    """Every web user that is not deleted, oldest first."""
    return list(
        db.session.scalars(
            select(User).join(User.actor).where(Actor.deleted_at.is_(None)).order_by(Actor.id)
        )
    )


def by_email(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == _normalise(email)))
    if user is None:
        raise NotFound(f"There is no user with the email {email}.")
    return user


def by_id(actor_id: int) -> User:
    user = db.session.get(User, actor_id)
    if user is None or user.actor.deleted_at is not None:
        raise NotFound(f"There is no user with id {actor_id}.")
    return user


def set_password(email: str, password: str) -> User:
    """Replace a user's password and end all their sessions."""
    user = by_email(email)
    passwords.check_new(password, user.email)
    user.password_hash = passwords.hash(password)
    db.session.execute(delete(Session).where(Session.actor_id == user.actor_id))
    audits.log(user.actor, "user.password", user.email)
    db.session.commit()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verify(email: str, password: str, *, client: throttle.Client) -> User:
    """Check an email and password (sign-in, or HTTP Basic on the feeds); return the user.

    The throttle decides first whether this client may try now (throttle.py: per email and
    address, per address, and a slow-down per email that never locks it); a failure is written
    before the answer, so every worker counts it. The failure that reaches a limit is answered
    with the pause itself, so the client learns at once how long to wait.
    """
    return _verify(email, password, client)[0]


def _verify(email: str, password: str, client: throttle.Client) -> tuple[User, throttle.Attempt]:
    email = _normalise(email)
    if passwords.too_long(password):
        # Refused before hashing; no password this long can be set, so nothing is learnt.
        raise Unauthorized(f"{FAILED} A password is at most {passwords.MAX_BYTES:,} bytes long.")
    attempt = throttle.check(email, client)
    user = db.session.scalar(select(User).where(User.email == email))
    ok = passwords.matches(user.password_hash if user else None, password)
    if not ok or user is None or user.actor.deleted_at is not None:
        throttle.failed(attempt)
        db.session.commit()
        throttle.check(email, client)
        raise Unauthorized(FAILED)
    return user, attempt


def login(email: str, password: str, *, hours: int, client: throttle.Client) -> tuple[Session, str]:
    """Check a password and open a session; return it and the token (shown only now)."""
    user, attempt = _verify(email, password, client)
    token = secrets.token_urlsafe(48)
    now = datetime.now(UTC)
    session = Session(
        actor_id=user.actor_id,
        token_hash=_token_hash(token),
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    db.session.add(session)
    throttle.succeeded(attempt)
    audits.log(user.actor, "user.session.create", user.email)
    db.session.commit()
    return session, token


def device_cookie(email: str) -> str:
    """The device cookie for a client that has just signed in with this email (throttle.py)."""
    return throttle.device_cookie(_normalise(email))


def session_for(token: str) -> Session | None:
    """The unexpired session a bearer token opens, if any."""
    session = db.session.scalar(select(Session).where(Session.token_hash == _token_hash(token)))
    if session is None:
        return None
    expires = session.expires_at
    if expires.tzinfo is None:  # SQLite gives back naive datetimes
        expires = expires.replace(tzinfo=UTC)
    return session if expires > datetime.now(UTC) else None


def actor_for(token: str) -> Actor | None:
    """The actor a bearer token stands for: a web user's session or an app user's key."""
    session = session_for(token)
    if session is not None:
        actor = db.session.get(Actor, session.actor_id)
        return actor if actor is not None and actor.deleted_at is None else None
    app_user = db.session.scalar(select(AppUser).where(AppUser.token == token))
    if app_user is not None and app_user.actor.deleted_at is None:
        return app_user.actor
    return None


def end_session(actor: Actor, token: str) -> None:
    """End the session a token opened: the caller's own, or anyone's for a site admin.

    Any other token, live or not, is refused alike (as Central does), so that this route cannot
    be used to learn whether a token is live.
    """
    session = session_for(token)
    if session is None or (session.actor_id != actor.id and not access.is_admin(actor)):
        raise Forbidden("You can end only your own sessions: this token is not one of them.")
    _end(actor, session)


def end_current(actor: Actor, token: str | None) -> None:
    """End the session the request was made with (a bearer token or the browser's cookie)."""
    if actor.type != "user":
        raise Forbidden("An app user has no session to end: a project manager revokes its key.")
    session = session_for(token) if token else None
    if session is None or session.actor_id != actor.id:
        raise NotFound("This request was not made with a session, so there is none to end.")
    _end(actor, session)


def _end(actor: Actor, session: Session) -> None:
    db.session.delete(session)
    audits.log(actor, "user.session.end", None, session=session.id, owner=session.actor_id)
    db.session.commit()


def sign_out(token: str) -> None:
    """End the browser's session (the pages' sign-out: whoever holds the cookie may)."""
    db.session.execute(delete(Session).where(Session.token_hash == _token_hash(token)))
    db.session.commit()
