"""Fixtures for encrypted submissions: a project's managed key (Collect's encryptor is in
tests/conftest.py, for the OpenRosa tests too)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from collect.domain.encryption import keys

PASSPHRASE = "a long passphrase for the programme"


@pytest.fixture(scope="session")
def managed() -> keys.ManagedKey:
    """A managed key sealed under PASSPHRASE (made once: Argon2id costs a third of a second)."""
    return keys.generate(PASSPHRASE)


@pytest.fixture(scope="session")
def private_key(managed: keys.ManagedKey) -> rsa.RSAPrivateKey:
    return keys.unlock(managed, PASSPHRASE)
