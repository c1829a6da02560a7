"""Project keys: a managed key opens only with its passphrase, a self-supplied PEM in memory, and
the public key is what Collect reads from a form's base64RsaPublicKey."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from collect.domain.encryption import keys
from collect.domain.encryption.envelope import Envelope
from collect.errors import BadRequest, DecryptionFailed, WrongKey, WrongPassphrase
from tests.encryption.collect_crypto import CollectEncryptor
from tests.encryption.conftest import PASSPHRASE


def submission(instance_id: str) -> bytes:
    return (
        f'<data id="household"><q>yes</q><meta><instanceID>{instance_id}</instanceID></meta></data>'
    ).encode()


def test_managed_key_is_rsa_2048_and_its_public_half_is_collects_spki_base64(
    managed: keys.ManagedKey,
) -> None:
    assert "\n" not in managed.public and "BEGIN" not in managed.public
    public = serialization.load_der_public_key(base64.b64decode(managed.public, validate=True))
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048
    assert public.public_numbers().e == 65537


def test_sealed_private_key_records_its_parameters_and_no_plaintext(
    managed: keys.ManagedKey, private_key: rsa.RSAPrivateKey
) -> None:
    doc = json.loads(managed.private)
    assert (doc["kdf"], doc["memory_kib"], doc["passes"], doc["lanes"]) == ("argon2id", 65536, 3, 4)
    assert len(base64.b64decode(doc["salt"])) == 16
    assert len(base64.b64decode(doc["nonce"])) == 12
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    sealed = base64.b64decode(doc["sealed"])
    assert len(sealed) == len(der) + 16  # AES-GCM: same length plus the tag
    assert der[64:96] not in sealed
    assert keys.public_key(private_key) == managed.public


def test_managed_key_opens_envelopes_collect_sealed_for_it(
    collect_crypto: CollectEncryptor, managed: keys.ManagedKey, tmp_path: Path
) -> None:
    instance_id = f"uuid:{uuid.uuid4()}"
    sealed = collect_crypto.seal(
        tmp_path,
        public_key=managed.public,
        form_id="household",
        instance_id=instance_id,
        xml=submission(instance_id),
    )
    private_key = keys.unlock(managed, PASSPHRASE)
    assert Envelope.open(sealed.manifest, private_key).read(sealed.files().get) == submission(
        instance_id
    )


def test_wrong_passphrase_is_refused_after_one_kdf_run(managed: keys.ManagedKey) -> None:
    started = time.perf_counter()
    with pytest.raises(WrongPassphrase, match="passphrase is not the one") as e:
        keys.unlock(managed, PASSPHRASE.upper())
    assert time.perf_counter() - started < 5
    assert (e.value.status, e.value.code, e.value.reason) == (400, 400.12, "passphrase")
    with pytest.raises(WrongPassphrase):
        keys.unlock(managed, "x" * 5000)


def test_passphrase_typed_with_composed_or_combining_accents_is_the_same() -> None:
    composed = keys.generate("témoignage protégé 2026")
    keys.unlock(composed, "te\u0301moignage prote\u0301ge\u0301 2026")


def test_sealed_private_key_cannot_be_paired_with_another_public_key(
    managed: keys.ManagedKey,
) -> None:
    other = keys.generate("another long passphrase")
    with pytest.raises(DecryptionFailed):
        keys.unlock(replace(managed, public=other.public), PASSPHRASE)


def test_damaged_stored_key_says_so(managed: keys.ManagedKey) -> None:
    with pytest.raises(DecryptionFailed, match="stored key is damaged"):
        keys.unlock(replace(managed, private="{}"), PASSPHRASE)


@pytest.mark.parametrize("passphrase", ["", "short", "123456789"])
def test_short_passphrase_is_refused(passphrase: str) -> None:
    with pytest.raises(BadRequest, match="at least 10 characters"):
        keys.generate(passphrase)


def _pem(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat, password: bytes | None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


@pytest.mark.parametrize(
    ("fmt", "password"),
    [
        (serialization.PrivateFormat.TraditionalOpenSSL, None),  # openssl genrsa, Briefcase
        (serialization.PrivateFormat.PKCS8, None),
        (serialization.PrivateFormat.PKCS8, b"pem password"),
    ],
)
def test_self_supplied_pem_key_opens_envelopes_sealed_for_its_public_key(
    collect_crypto: CollectEncryptor,
    tmp_path: Path,
    fmt: serialization.PrivateFormat,
    password: bytes | None,
) -> None:
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = base64.b64encode(
        own.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    instance_id = f"uuid:{uuid.uuid4()}"
    sealed = collect_crypto.seal(
        tmp_path,
        public_key=public,
        form_id="household",
        instance_id=instance_id,
        xml=submission(instance_id),
    )
    loaded = keys.load_pem("\n" + _pem(own, fmt, password) + "\n", password=password)
    keys.check_pair(loaded, public)
    assert Envelope.open(sealed.manifest, loaded).read(sealed.files().get) == submission(
        instance_id
    )


def test_check_pair_accepts_pem_armour_and_refuses_another_key(
    private_key: rsa.RSAPrivateKey,
) -> None:
    public = keys.public_key(private_key)
    armoured = (
        "-----BEGIN PUBLIC KEY-----\n"
        + "\n".join(public[i : i + 64] for i in range(0, len(public), 64))
        + "\n-----END PUBLIC KEY-----\n"
    )
    keys.check_pair(private_key, armoured)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(WrongKey, match="does not belong to the form's public key"):
        keys.check_pair(other, public)


def test_unusable_pem_keys_are_refused_with_what_to_give() -> None:
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    protected = _pem(own, serialization.PrivateFormat.PKCS8, b"secret")
    with pytest.raises(BadRequest, match="protected by a password"):
        keys.load_pem(protected)
    with pytest.raises(BadRequest, match="password is wrong"):
        keys.load_pem(protected, password=b"not it")
    with pytest.raises(BadRequest, match="not protected by a password"):
        keys.load_pem(_pem(own, serialization.PrivateFormat.PKCS8, None), password=b"x")
    with pytest.raises(BadRequest, match="BEGIN PRIVATE KEY"):
        keys.load_pem("not a key at all")
    curve = ec.generate_private_key(ec.SECP256R1())
    curve_pem = curve.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(BadRequest, match="not an RSA key"):
        keys.load_pem(curve_pem)
    with pytest.raises(BadRequest, match="too large"):
        keys.load_pem(b"x" * (keys.MAX_PEM_BYTES + 1))
