"""Web users' passwords: the policy for new ones, and Argon2id hashing within the server's means.

An Argon2id check costs about a second of CPU and 64 MiB at the production parameters, which is
what makes a stolen hash slow to crack, and also what a flood of sign-ins would spend: so a
password longer than MAX_BYTES is refused before anything is hashed, and each process hashes at
most `PASSWORD_CHECKS_AT_ONCE` passwords at a time (config.py). A request that finds every slot
taken waits `PASSWORD_CHECK_WAIT_SECONDS`, then is told to retry, instead of queueing threads
that ODK Collect's submissions need.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from collect.errors import BadRequest, Busy

MIN_CHARACTERS = 10
# NIST SP 800-63B asks to accept at least 64 characters; 1,024 bytes leaves room for any
# passphrase or password manager while bounding what one attempt can make the server read.
MAX_BYTES = 1024
# Local parts this short ("li@...") are inside too many good passwords to be refused for it.
SHORTEST_LOCAL_PART = 4
BUSY = (
    "The server is busy checking other passwords. Try again in a few seconds; "
    "your password was not checked, so this attempt does not count."
)


def too_long(password: str) -> bool:
    """Longer than any password can be: refused before hashing, at sign-in as when set."""
    # Four UTF-8 bytes per character at most, so most passwords are decided without encoding.
    return len(password) * 4 > MAX_BYTES and len(password.encode()) > MAX_BYTES


def check_new(password: str, email: str) -> None:
    """Refuse a password a user may not choose, with a sentence that says what to choose."""
    if len(password) < MIN_CHARACTERS:
        raise BadRequest(
            f"The password must have at least {MIN_CHARACTERS} characters: choose a longer one "
            "(a few unrelated words are long and easy to remember)."
        )
    if too_long(password):
        raise BadRequest(
            f"The password must be at most {MAX_BYTES:,} bytes long "
            "(about 1,000 letters, fewer in scripts other than Latin): choose a shorter one."
        )
    folded = password.casefold()
    address = email.strip().casefold()
    local = address.partition("@")[0]
    if (address and address in folded) or (len(local) >= SHORTEST_LOCAL_PART and local in folded):
        raise BadRequest(
            "The password must not contain the email address or the part before the @: "
            "choose one that someone who knows the address cannot guess."
        )
    if folded in _common():
        raise BadRequest(
            "This password is one of the most common ones, which attackers try first: "
            "choose another, for example a few unrelated words."
        )


@functools.cache
def _common() -> frozenset[str]:
    """zxcvbn's 30,000 most common passwords (it ships the list; loaded on first use)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.casefold() for p in FREQUENCY_LISTS["passwords"])


def hash(password: str) -> str:
    """The Argon2id hash to store for a new password (checked with `check_new` first)."""
    hasher = _hasher()
    with _slot():
        return hasher.hash(password)


def matches(stored: str | None, password: str) -> bool:
    """Whether the password is the one of this stored hash; None (no user) is checked too.

    An unknown email or an account without a password is verified against a dummy hash, so
    that every failure costs the same time and none says whether the email exists.
    """
    if too_long(password):
        return False
    hasher = _hasher()
    with _slot():
        try:
            return hasher.verify(stored or _dummy_hash(hasher), password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


@contextmanager
def _slot() -> Iterator[None]:
    """Hold one of this process's hashing slots, or raise Busy after a short wait."""
    config = current_app.config
    wait = float(config["PASSWORD_CHECK_WAIT_SECONDS"])
    slots = _slots(int(config["PASSWORD_CHECKS_AT_ONCE"]))
    if not slots.acquire(timeout=wait):
        raise Busy(BUSY, retry_after=max(1, math.ceil(wait)))
    try:
        yield
    finally:
        slots.release()


_slots_lock = threading.Lock()
_slots_by_size: dict[int, threading.BoundedSemaphore] = {}


def _slots(size: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        found = _slots_by_size.get(size)
        if found is None:
            found = _slots_by_size[size] = threading.BoundedSemaphore(max(1, size))
        return found


def _hasher() -> PasswordHasher:
    """The Argon2id hasher of the app's `PASSWORD_HASHING` parameters (see config.py)."""
    cost = current_app.config["PASSWORD_HASHING"]
    return _hasher_for(cost["time_cost"], cost["memory_cost"], cost["parallelism"])


@functools.cache
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Made on first use rather than at import: a hash costs as much as a sign-in, and every CLI
    call and worker imports this module."""
    return hasher.hash("not-a-real-password")
