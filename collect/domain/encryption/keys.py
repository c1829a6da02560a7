"""Project keys: managed key pairs sealed under a passphrase, and self-supplied private keys.

A managed key is made as ODK Central makes one (an RSA key pair whose public half is served to
Collect), but its private half is sealed with a memory-hard KDF rather than Central's PBKDF2:

- RSA-2048, public exponent 65537. The public key is given to Collect as the form's
  `base64RsaPublicKey`: base64 (standard alphabet, no line breaks) of the DER
  SubjectPublicKeyInfo, which Collect reads with `X509EncodedKeySpec`.
- The private key, as PKCS#8 DER, is sealed with AES-256-GCM (random 96-bit nonce, 128-bit tag)
  under a 256-bit key derived from the passphrase (NFC, UTF-8) by Argon2id (RFC 9106) with a
  random 16-byte salt, 64 MiB of memory, 3 passes and 4 lanes: RFC 9106's second recommended
  setting, about 0.35 s on this project's reference machine. The public key's DER is the AES-GCM
  associated data, so a sealed private key cannot be paired with another public key unnoticed.
- The sealed form is one JSON text holding the KDF, its parameters, salt, nonce and ciphertext,
  so keys sealed today still open if the parameters are raised later.
- A wrong passphrase fails the GCM tag check: one KDF run, then `WrongPassphrase`.

A self-supplied private key (PEM, as ODK Briefcase takes it) is loaded in memory for one use and
never stored. Nothing here imports Flask or the database.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import unicodedata
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from collect.errors import BadRequest, DecryptionFailed, WrongKey, WrongPassphrase

RSA_BITS = 2048
ARGON2_MEMORY_KIB = 64 * 1024
ARGON2_PASSES = 3
ARGON2_LANES = 4
SALT_BYTES = 16
NONCE_BYTES = 12
MIN_PASSPHRASE = 10  # Central's minimum
MAX_PASSPHRASE = 1024
MAX_PEM_BYTES = 64 * 1024
# Collect wraps a 32-byte key with OAEP-SHA256, which needs at least a 1024-bit key; beyond
# 8192 bits each unwrap costs seconds, which would let one key stall an export.
KEY_BITS_ACCEPTED = range(1024, 8193)


@dataclass(frozen=True)
class ManagedKey:
    """A key pair made by the server: `public` as Collect takes it, `private` sealed (JSON)."""

    public: str
    private: str


def generate(passphrase: str) -> ManagedKey:
    """Make an RSA-2048 key pair and seal its private half under `passphrase`."""
    _check_passphrase(passphrase)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    public_der = _public_der(private_key.public_key())
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    kek = _derive(passphrase, salt, ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES)
    plain = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    sealed = AESGCM(kek).encrypt(nonce, plain, public_der)
    document = {
        "v": 1,
        "kdf": "argon2id",
        "memory_kib": ARGON2_MEMORY_KIB,
        "passes": ARGON2_PASSES,
        "lanes": ARGON2_LANES,
        "salt": _b64(salt),
        "nonce": _b64(nonce),
        "sealed": _b64(sealed),
    }
    return ManagedKey(public=_b64(public_der), private=json.dumps(document, sort_keys=True))


def unlock(key: ManagedKey, passphrase: str) -> rsa.RSAPrivateKey:
    """The private key of a managed key, opened with its passphrase (`WrongPassphrase` if not)."""
    if len(passphrase) > MAX_PASSPHRASE:
        raise WrongPassphrase(_WRONG_PASSPHRASE)
    try:
        doc = json.loads(key.private)
        if doc.get("v") != 1 or doc.get("kdf") != "argon2id":
            raise ValueError("unknown sealing")
        kek = _derive(
            passphrase,
            _unb64(doc["salt"]),
            int(doc["memory_kib"]),
            int(doc["passes"]),
            int(doc["lanes"]),
        )
        nonce, sealed = _unb64(doc["nonce"]), _unb64(doc["sealed"])
        public_der = _unb64(key.public)
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        raise DecryptionFailed(
            "The project's stored key is damaged and cannot be opened; restore it from a backup."
        ) from e
    try:
        plain = AESGCM(kek).decrypt(nonce, sealed, public_der)
    except InvalidTag as e:
        raise WrongPassphrase(_WRONG_PASSPHRASE) from e
    private_key = serialization.load_der_private_key(plain, password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise DecryptionFailed("The project's stored key is not an RSA key.")
    return private_key


def load_pem(data: bytes | str, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """A self-supplied RSA private key from its PEM text (PKCS#1 or PKCS#8), held in memory only."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_PEM_BYTES:
        raise BadRequest("The private key is too large: give the PEM file of one RSA private key.")
    try:
        private_key = serialization.load_pem_private_key(raw.strip(), password=password)
    except TypeError as e:
        # Raised both for a protected key without a password and a password for a plain key.
        raise BadRequest(
            "The private key is protected by a password: give the password too, "
            "or the key without one."
            if password is None
            else "The private key is not protected by a password: give it without one."
        ) from e
    except (ValueError, UnsupportedAlgorithm) as e:
        raise BadRequest(
            "The private key cannot be read (or its password is wrong): give the PEM text that "
            "begins with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----."
        ) from e
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise BadRequest("The private key is not an RSA key: ODK encryption uses RSA keys.")
    if private_key.key_size not in KEY_BITS_ACCEPTED:
        raise BadRequest(
            f"The private key has {private_key.key_size} bits; ODK forms use RSA keys of "
            "1024 to 8192 bits (2048 is usual)."
        )
    return private_key


def public_key(private_key: rsa.RSAPrivateKey) -> str:
    """The public half as Collect takes it in `base64RsaPublicKey`."""
    return _b64(_public_der(private_key.public_key()))


def check_pair(private_key: rsa.RSAPrivateKey, base64_public_key: str) -> None:
    """Raise `WrongKey` unless `private_key` is the private half of a form's public key."""
    if public_key(private_key) != _normalise_public(base64_public_key):
        raise WrongKey(
            "This private key does not belong to the form's public key: give the private key "
            "that was made together with the public key in the form's settings."
        )


_WRONG_PASSPHRASE = (
    "The passphrase is not the one this project's encryption key was made with: check it "
    "(case, spaces and punctuation count) and try again."
)


def _check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BadRequest(
            f"The passphrase must have at least {MIN_PASSPHRASE} characters: nobody can recover "
            "the data without it, so choose a long one and keep it safe."
        )
    if len(passphrase) > MAX_PASSPHRASE:
        raise BadRequest(f"The passphrase must have at most {MAX_PASSPHRASE} characters.")


def _derive(passphrase: str, salt: bytes, memory_kib: int, passes: int, lanes: int) -> bytes:
    # NFC first: "é" typed as one character or as "e" and an accent is the same passphrase.
    return hash_secret_raw(
        unicodedata.normalize("NFC", passphrase).encode("utf-8"),
        salt,
        time_cost=passes,
        memory_cost=memory_kib,
        parallelism=lanes,
        hash_len=32,
        type=Type.ID,
    )


def _public_der(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _normalise_public(text: str) -> str:
    # Forms carry base64 of the DER, sometimes with the PEM armour or line breaks left in.
    body = "".join(
        line for line in text.strip().splitlines() if not line.startswith("-----")
    ).replace(" ", "")
    try:
        der = base64.b64decode(body, validate=True)
        key = serialization.load_der_public_key(der)
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        return body
    return _b64(_public_der(key)) if isinstance(key, rsa.RSAPublicKey) else body


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
