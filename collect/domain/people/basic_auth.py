"""HTTP Basic sign-in for the feeds, with credentials verified recently remembered per process.

Excel and Power BI send the email and password with every request of a refresh, often hundreds
of them, and an Argon2id check costs about a second of CPU. So once a credential has been
verified, this process remembers for `BASIC_AUTH_SECONDS` that it was right: keyed by an HMAC
of the credential with the app's secret key (the password itself is never kept, and the key
cannot be tested offline without the secret), and mapped to the user and the password hash it
matched.

Keeping this per process is safe because it only saves re-hashing, never a decision: every
request, remembered or not, reads the user row, and the credential counts only while the user
is not deleted, has the same email and the very password hash it was verified against. A
password change, a new password set by an admin or a deleted user take effect on the next
request in every worker. Workers that have not seen the credential simply verify it once.
Failures are never remembered: each goes through the throttle (throttle.py) and is counted.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from collect.domain.people import throttle, users
from collect.storage.db import db
from collect.storage.models import User

# Enough for every person who reads a feed at once; the oldest entry goes first beyond it.
ENTRIES = 1000


@dataclass(frozen=True)
class _Verified:
    actor_id: int
    email: str
    password_hash: str
    until: float  # time.monotonic()


_lock = threading.Lock()
_verified: OrderedDict[str, _Verified] = OrderedDict()


def verify(email: str, password: str, *, client: throttle.Client) -> User:
    """The user of a Basic credential: remembered when verified lately, else `users.verify`."""
    seconds = float(current_app.config["BASIC_AUTH_SECONDS"])
    key = _key(email, password)
    with _lock:
        entry = _verified.get(key)
    if entry is not None and entry.until > time.monotonic():
        user = db.session.scalar(select(User).where(User.actor_id == entry.actor_id))
        if (
            user is not None
            and user.actor.deleted_at is None
            and user.email == entry.email
            and user.password_hash == entry.password_hash
        ):
            return user
        with _lock:
            _verified.pop(key, None)
    user = users.verify(email, password, client=client)
    if seconds > 0 and user.password_hash is not None:
        remembered = _Verified(
            user.actor_id, user.email, user.password_hash, time.monotonic() + seconds
        )
        with _lock:
            _verified[key] = remembered
            _verified.move_to_end(key)
            while len(_verified) > ENTRIES:
                _verified.popitem(last=False)
    return user


def _key(email: str, password: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    credential = email.encode() + b"\0" + password.encode()
    return hmac.new(secret, credential, hashlib.sha256).hexdigest()
