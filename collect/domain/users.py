"""Web users, their passwords and their bearer sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select

from collect.domain import audits
from collect.errors import AlreadyExists, BadRequest, NotFound, TooManyRequests, Unauthorized
from collect.storage.db import db
from collect.storage.models import Actor, AppUser, LoginAttempt, Session, User

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 10
MAX_FAILURES = 5
LOCKED = (
    "Signing in with this email is paused for 15 minutes because of too many failed attempts. "
    "Wait, then try again, or ask a site administrator to set a new password."
)


def _normalise(email: str) -> str:
    return email.strip().lower()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"The password must have at least {MIN_PASSWORD} characters.")


def create(
    email: str, password: str | None, *, is_admin: bool = False, display_name: str | None = None
) -> User:
    """Create a web user; a None password makes an account that cannot sign in yet."""
    email = _normalise(email)
    if not _EMAIL.match(email):
        raise BadRequest(f"'{email}' is not an email address.")
    if password is not None:
        _check_password(password)
    if db.session.scalar(select(User).where(User.email == email)) is not None:
        raise AlreadyExists(f"A user with the email {email} already exists.")
    actor = Actor(type="user", display_name=display_name or email)
    user = User(
        actor=actor,
        email=email,
        password_hash=_hasher.hash(password) if password else None,
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
    _check_password(password)
    user = by_email(email)
    user.password_hash = _hasher.hash(password)
    db.session.execute(delete(Session).where(Session.actor_id == user.actor_id))
    audits.log(user.actor, "user.password", user.email)
    db.session.commit()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def recent_failures(email: str, window: timedelta = timedelta(minutes=15)) -> int:
    """Failed sign-ins for this email in the window (shared by every worker through the DB)."""
    since = datetime.now(UTC) - window
    return (
        db.session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.email == _normalise(email), LoginAttempt.attempted_at >= since)
        )
        or 0
    )


def verify(email: str, password: str, *, max_failures: int = MAX_FAILURES) -> User:
    """Check an email and password (sign-in, or HTTP Basic on the OData feed); return the user.

    After `max_failures` failures for an email within 15 minutes, sign-in with that email is
    refused for a while, whichever worker or server is asked: the count is in the database.
    """
    if recent_failures(email) >= max_failures:
        raise TooManyRequests(LOCKED)
    user = db.session.scalar(select(User).where(User.email == _normalise(email)))
    ok = False
    try:
        ok = _hasher.verify(
            user.password_hash if user and user.password_hash else _DUMMY_HASH, password
        )
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.actor.deleted_at is not None:
        db.session.add(LoginAttempt(email=_normalise(email)))
        db.session.commit()
        if recent_failures(email) >= max_failures:
            raise TooManyRequests(LOCKED)
        raise Unauthorized("Could not sign in with that email and password.")
    return user


def login(
    email: str, password: str, *, hours: int, max_failures: int = MAX_FAILURES
) -> tuple[Session, str]:
    """Check a password and open a session; return it and the token (shown only now)."""
    user = verify(email, password, max_failures=max_failures)
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
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == user.email))
    audits.log(user.actor, "user.session.create", user.email)
    db.session.commit()
    return session, token


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


def logout(token: str) -> None:
    """End the session a token opened; unknown tokens are a 404."""
    result = db.session.execute(delete(Session).where(Session.token_hash == _token_hash(token)))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound("There is no such session.")
    db.session.commit()
