"""Fixtures for encrypted submissions: Collect's encryptor (Java) and a project's managed key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from collect.domain.encryption import keys
from tests.encryption.collect_crypto import CollectEncryptor, compile_encryptor

PASSPHRASE = "a long passphrase for the programme"


@pytest.fixture(scope="session")
def collect_crypto(tmp_path_factory: pytest.TempPathFactory) -> CollectEncryptor:
    """Collect's submission encryption, in Java (skips without Java)."""
    encryptor = compile_encryptor(Path(tmp_path_factory.mktemp("collect-crypto")))
    if encryptor is None:
        pytest.skip("Java (java and javac) is not installed")
    return encryptor


@pytest.fixture(scope="session")
def managed() -> keys.ManagedKey:
    """A managed key sealed under PASSPHRASE (made once: Argon2id costs a third of a second)."""
    return keys.generate(PASSPHRASE)


@pytest.fixture(scope="session")
def private_key(managed: keys.ManagedKey) -> rsa.RSAPrivateKey:
    return keys.unlock(managed, PASSPHRASE)
