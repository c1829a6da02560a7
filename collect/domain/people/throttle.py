"""How often someone may try a password, so that guessing is slow and nobody can lock an owner out.

Failed attempts are rows (`login_attempts`), so every worker and server counts the same ones.
Three limits apply to a client that has not signed in with that email before:

- per email and client address: PER_CLIENT failures in WINDOW pause that pair (a 429 saying when
  to try again). The attacker's client is paused, not the account: the owner elsewhere signs in.
- per address, whatever the email: PER_ADDRESS failures in WINDOW pause the address, so one
  password sprayed over many emails from one place is throttled too.
- per email, from everywhere: after ACCOUNT_FREE failures in WINDOW, each attempt must wait
  after the last failure, twice as long each time, up to ACCOUNT_DELAY_CAP. Many addresses
  together are slowed down, but the account is never locked: the wait stays short.

A client that signed in with that email before has the device cookie (OWASP's "device cookies":
a nonce signed with the app's secret for that email) and is subject to none of these: its own
failures are counted per cookie instead, and after PER_CLIENT of them the cookie is no longer
trusted. So an owner can sign in from their usual browser while their account is under attack.

The address is the request's, as the web layer gives it (behind a proxy only when the app is
told to trust it: COLLECT_TRUST_PROXY); an IPv6 client counts by its /64 network, which is
what one subscriber usually holds. Attempts checked at the same moment by several workers may
all pass before the first failure is written, so a limit can be passed by the number of
concurrent password checks (passwords.py bounds them); the pause follows right after.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, delete, func, select

from collect.errors import TooManyRequests
from collect.storage.db import db
from collect.storage.models import LoginAttempt

WINDOW = timedelta(minutes=15)
PER_CLIENT = 5
PER_ADDRESS = 20
ACCOUNT_FREE = 10
ACCOUNT_DELAY_CAP = timedelta(seconds=60)
# Failures older than this are deleted as new ones are written: the limits look back WINDOW.
KEPT = timedelta(days=1)


@dataclass(frozen=True)
class Client:
    """Who is trying: the request's address and the device cookie it sent, if any."""

    address: str | None
    device: str | None = None


@dataclass(frozen=True)
class Attempt:
    """An attempt the limits allowed: what a failure or success is recorded against."""

    email: str
    network: str
    device: str | None  # the trusted device cookie, as stored (a hash of its nonce)


def check(email: str, client: Client) -> Attempt:
    """Allow an attempt to sign in with this email, or raise TooManyRequests saying when."""
    now = datetime.now(UTC)
    network = _network(client.address)
    device = _trusted(email, client.device)
    if device is not None:
        mine = _recent(now, PER_CLIENT, LoginAttempt.email == email, LoginAttempt.device == device)
        if len(mine) < PER_CLIENT:
            return Attempt(email, network, device)
        # A cookie that failed too often is no longer trusted: the limits below apply to it.
    pair = _recent(now, PER_CLIENT, LoginAttempt.email == email, LoginAttempt.address == network)
    if len(pair) >= PER_CLIENT:
        wait = _until(now, pair[-1] + WINDOW)
        raise TooManyRequests(
            f"Too many failed attempts to sign in with this email from here: wait {_span(wait)}, "
            "then try again. Signing in from a browser where you signed in before still works; "
            "a site administrator can also set a new password.",
            retry_after=wait,
        )
    spread = _recent(now, PER_ADDRESS, LoginAttempt.address == network)
    if len(spread) >= PER_ADDRESS:
        wait = _until(now, spread[-1] + WINDOW)
        raise TooManyRequests(
            f"Too many failed sign-ins from your network: wait {_span(wait)}, then try again. "
            "Signing in from a browser where you signed in before still works.",
            retry_after=wait,
        )
    count, last = db.session.execute(
        select(func.count(), func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.email == email, LoginAttempt.attempted_at >= now - WINDOW
        )
    ).one()
    if count >= ACCOUNT_FREE and last is not None:
        delay = min(timedelta(seconds=2 ** min(count - ACCOUNT_FREE, 16)), ACCOUNT_DELAY_CAP)
        ready = _aware(last) + delay
        if ready > now:
            wait = _until(now, ready)
            raise TooManyRequests(
                "Signing in with this email is slowed down because of many failed attempts: "
                f"try again in {_span(wait)}. Signing in from a browser where you signed in "
                "before is not slowed down.",
                retry_after=wait,
            )
    return Attempt(email, network, None)


def failed(attempt: Attempt) -> None:
    """Count a failed attempt (the caller commits), and forget failures older than KEPT."""
    now = datetime.now(UTC)
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < now - KEPT))
    db.session.add(
        LoginAttempt(
            email=attempt.email,
            address=attempt.network,
            device=attempt.device,
            attempted_at=now,
        )
    )


def succeeded(attempt: Attempt) -> None:
    """Clear this client's failures for the email (the caller commits).

    Only this client's, the device cookie's when it has one (an attacker may share the owner's
    address): the others' still count, or an attacker would be given a fresh start each time
    the owner signs in.
    """
    mine = (
        LoginAttempt.address == attempt.network
        if attempt.device is None
        else LoginAttempt.device == attempt.device
    )
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == attempt.email, mine))


def device_cookie(email: str) -> str:
    """A new device cookie's value for a client that has just signed in with this email."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_signature(email, nonce)}"


def _trusted(email: str, cookie: str | None) -> str | None:
    """The stored form of a device cookie signed for this email, or None.

    Only a hash of the nonce is stored, so the table holds nothing a cookie could be rebuilt
    from (the signature needs the secret key anyway).
    """
    if not cookie or len(cookie) > 200:
        return None
    nonce, _, signature = cookie.partition(".")
    if not nonce or not hmac.compare_digest(signature, _signature(email, nonce)):
        return None
    return hashlib.sha256(nonce.encode()).hexdigest()[:32]


def _signature(email: str, nonce: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    message = b"collect-device-cookie\0" + email.encode() + b"\0" + nonce.encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _recent(now: datetime, limit: int, *where: ColumnElement[bool]) -> list[datetime]:
    """The times of the latest `limit` failures within WINDOW that match, newest first."""
    rows = db.session.scalars(
        select(LoginAttempt.attempted_at)
        .where(*where, LoginAttempt.attempted_at >= now - WINDOW)
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(limit)
    )
    return [_aware(t) for t in rows]


def _network(address: str | None) -> str:
    """The address an attempt counts against: IPv4 as is, IPv6 by its /64."""
    try:
        parsed = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _aware(moment: Any) -> datetime:
    value: datetime = moment
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite: naive


def _until(now: datetime, moment: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _span(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"
