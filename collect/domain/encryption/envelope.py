"""Open an encrypted submission as ODK Collect seals it: manifest, key unwrap, files, signature.

Collect (EncryptionUtils) encrypts each finalised submission with a fresh AES-256 key, wraps that
key with the form's RSA public key (OAEP, SHA-256 for both the hash and MGF1) and sends a
plaintext manifest, `submission.xml`, beside the encrypted files:

- `base64EncryptedKey`: the wrapped AES key; `orx:meta/orx:instanceID`; one `<media><file>`
  per attachment (`NAME.enc`) in the order they were encrypted; `encryptedXmlFile`
  (`submission.xml.enc`); `base64EncryptedElementSignature`.
- Every file is AES/CFB (128-bit feedback) with PKCS#7 padding (`cryptography` files CFB under
  "decrepit": it is, but it is what Collect writes). The IV starts as
  MD5(instanceID as UTF-8, then the AES key); before the k-th file (k from 0: the media in
  manifest order, then the XML last) byte k % 16 of that running IV is incremented.
- The "signature" is the RSA-OAEP encryption of the MD5 of these lines, each ending in "\n":
  formId, version (only when the manifest has one), base64EncryptedKey, instanceID, then
  `NAME::md5hex` for each media file and `submission.xml::md5hex`, with the plaintext names and
  the MD5 of the plaintext contents. Anyone with the public key can make one, so it proves the
  files are the ones the phone encrypted (nothing lost, swapped or damaged), not who sent them.

Files are decrypted in chunks, so a large video never sits whole in memory; decrypted bytes are
only ever yielded to the caller, never written anywhere. Nothing here imports Flask or the
database. Errors are the `DecryptionFailed` family from collect.errors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from lxml import etree

from collect.domain.forms import xform
from collect.errors import (
    EnvelopeCorrupt,
    EnvelopeIncomplete,
    InvalidSubmission,
    SignatureMismatch,
    WrongKey,
)

CHUNK = 64 * 1024
OAEP = asymmetric.OAEP(
    mgf=asymmetric.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
)
XML_NAME = "submission.xml"

Source = bytes | BinaryIO
Opener = Callable[[str], Source | None]


@dataclass(frozen=True)
class Manifest:
    """What the plaintext manifest of an encrypted submission says."""

    form_id: str
    version: str | None  # None when the form has no version (Collect then leaves it out)
    instance_id: str
    wrapped_key: bytes
    media: tuple[str, ...]  # encrypted file names (NAME.enc), in encryption order
    xml_file: str  # the encrypted submission XML's name, submission.xml.enc
    signature: bytes | None

    @property
    def files(self) -> tuple[str, ...]:
        """Every encrypted file in encryption order: the media, then the XML."""
        return (*self.media, self.xml_file)


def read_manifest(xml: bytes) -> Manifest:
    """Parse a stored manifest; `EnvelopeCorrupt` when it is not a whole encrypted envelope."""
    try:
        root = xform.parse_xml(xml, what="encrypted submission's manifest")
        meta = xform.submission_meta(root)
    except InvalidSubmission as e:
        raise EnvelopeCorrupt(e.message) from e
    if not meta.encrypted:
        raise EnvelopeCorrupt(
            f"Submission {meta.instance_id} is not encrypted, so there is nothing to decrypt."
        )
    key = _child_text(root, "base64EncryptedKey")
    xml_file = _child_text(root, "encryptedXmlFile")
    signature = _child_text(root, "base64EncryptedElementSignature")
    if not key or not xml_file:
        missing = "base64EncryptedKey" if not key else "encryptedXmlFile"
        raise EnvelopeCorrupt(
            f"The manifest of encrypted submission {meta.instance_id} has no {missing}, so it "
            "cannot be decrypted; it is kept as it was received."
        )
    media = tuple(name for name in meta.media_files if name != xml_file)
    return Manifest(
        form_id=meta.form_id,
        version=root.get("version"),
        instance_id=meta.instance_id,
        wrapped_key=_unbase64(key, meta.instance_id, "base64EncryptedKey"),
        media=media,
        xml_file=xml_file,
        signature=_unbase64(signature, meta.instance_id, "signature") if signature else None,
    )


class Envelope:
    """An encrypted submission whose AES key is unwrapped, ready to decrypt its files."""

    def __init__(self, manifest: Manifest, private_key: rsa.RSAPrivateKey) -> None:
        self.manifest = m = manifest
        self._private_key = private_key
        self._digests: dict[str, str] = {}  # plaintext name -> MD5 hex of the plaintext
        self._verified = False
        try:
            self._key = private_key.decrypt(m.wrapped_key, OAEP)
        except ValueError as e:
            # OAEP's padding check fails for a key made for another public key (or damaged).
            raise WrongKey(
                f"Submission {m.instance_id} was encrypted for a different key: give the "
                "private key (or passphrase) of the key the form had when it was filled in."
            ) from e
        if len(self._key) != 32:
            raise EnvelopeCorrupt(
                f"The key of encrypted submission {m.instance_id} is not an AES-256 key; "
                "the envelope is damaged."
            )
        running = bytearray(hashlib.md5(m.instance_id.encode("utf-8") + self._key).digest())
        self._ivs: dict[str, bytes] = {}
        for k, name in enumerate(m.files):
            running[k % 16] = (running[k % 16] + 1) % 256
            self._ivs.setdefault(name, bytes(running))

    @classmethod
    def open(cls, manifest_xml: bytes, private_key: rsa.RSAPrivateKey) -> Envelope:
        """Read a stored manifest and unwrap its key (`WrongKey` if not this key's)."""
        return cls(read_manifest(manifest_xml), private_key)

    def decrypt(self, name: str, source: Source) -> Iterator[bytes]:
        """Yield the plaintext of the encrypted file `name` (read from `source`) in chunks.

        The plaintext's MD5 is kept for `verify`; a file decrypted again must give the same.
        """
        if name not in self._ivs:
            raise EnvelopeCorrupt(
                f"Encrypted submission {self.manifest.instance_id} lists no file {name}."
            )
        stream = io.BytesIO(source) if isinstance(source, bytes) else source
        decryptor = Cipher(algorithms.AES(self._key), CFB(self._ivs[name])).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        digest = hashlib.md5()
        while chunk := stream.read(CHUNK):
            plain = unpadder.update(decryptor.update(chunk))
            if plain:
                digest.update(plain)
                yield plain
        try:
            plain = unpadder.update(decryptor.finalize()) + unpadder.finalize()
        except ValueError as e:
            raise EnvelopeCorrupt(
                f"The file {name} of encrypted submission {self.manifest.instance_id} is "
                "damaged or cut short (its padding is wrong), so it cannot be decrypted."
            ) from e
        digest.update(plain)
        if plain:
            yield plain
        plain_name = _plain_name(name)
        earlier = self._digests.setdefault(plain_name, digest.hexdigest())
        if earlier != digest.hexdigest():
            raise SignatureMismatch(self._mismatch())

    def decrypt_bytes(self, name: str, source: Source) -> bytes:
        """The whole plaintext of a small encrypted file (the submission XML)."""
        return b"".join(self.decrypt(name, source))

    def verify(self) -> None:
        """Check the signature over every file decrypted so far (all must have been)."""
        if self._verified:
            return
        m = self.manifest
        lines = [m.form_id, *([m.version] if m.version is not None else [])]
        lines += [base64.b64encode(m.wrapped_key).decode("ascii"), m.instance_id]
        for name in m.files:
            plain_name = _plain_name(name)
            if plain_name not in self._digests:
                raise EnvelopeIncomplete(
                    f"The file {name} of encrypted submission {m.instance_id} has not been "
                    "decrypted, so its signature cannot be checked."
                )
            lines.append(f"{plain_name}::{self._digests[plain_name]}")
        if m.signature is None:
            raise SignatureMismatch(
                f"Encrypted submission {m.instance_id} has no signature, so its files cannot "
                "be checked; it is kept as received but not decrypted."
            )
        expected = hashlib.md5("".join(line + "\n" for line in lines).encode("utf-8")).digest()
        try:
            signed = self._private_key.decrypt(m.signature, OAEP)
        except ValueError as e:
            raise SignatureMismatch(self._mismatch()) from e
        if not hmac.compare_digest(signed, expected):
            raise SignatureMismatch(self._mismatch())
        self._verified = True

    def read(self, open_file: Opener) -> bytes:
        """Decrypt every file, verify the signature, and return the submission XML.

        `open_file(name)` gives an encrypted file's bytes or a binary file object, or None when
        it has not arrived. Media plaintext is only hashed here; stream it with `decrypt` after.
        """
        m = self.manifest
        for name in m.media:
            for _ in self.decrypt(name, self._source(open_file, name)):
                pass
        xml = self.decrypt_bytes(m.xml_file, self._source(open_file, m.xml_file))
        self.verify()
        return xml

    def _source(self, open_file: Opener, name: str) -> Source:
        source = open_file(name)
        if source is None:
            raise EnvelopeIncomplete(
                f"Encrypted submission {self.manifest.instance_id} is missing its file {name}: "
                "the phone has not finished sending it. It can be decrypted once every file "
                "has arrived (Collect sends what is left when it next sends)."
            )
        return source

    def _mismatch(self) -> str:
        return (
            f"The files of encrypted submission {self.manifest.instance_id} do not match the "
            "signature the phone made when it encrypted them: one was changed or damaged since. "
            "The submission is kept as received but not decrypted."
        )


def _plain_name(name: str) -> str:
    # The signature names each file as it was before encryption, without ".enc".
    return name.removesuffix(".enc")


def _child_text(root: etree._Element, name: str) -> str:
    for child in root:
        if isinstance(child.tag, str) and xform.local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _unbase64(text: str, instance_id: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise EnvelopeCorrupt(
            f"The {what} of encrypted submission {instance_id} is not valid base64; "
            "the manifest is damaged."
        ) from e
