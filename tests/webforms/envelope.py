"""Decrypt Collect's submission envelope (openrosa.md §6.5) as Central and Briefcase do.

The tests use it to show that what the browser encrypted opens with the form's private key
alone, by the rules every ODK tool follows; nothing here comes from the browser's code.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from defusedxml import ElementTree

NS = {"e": "http://www.opendatakit.org/xforms/encrypted", "orx": "http://openrosa.org/xforms"}
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


@dataclass(frozen=True)
class Manifest:
    form_id: str
    version: str | None
    encrypted_key: str
    instance_id: str
    media: list[str]
    xml_file: str
    signature: str


def key_pair() -> tuple[rsa.RSAPrivateKey, str]:
    """A new RSA key and its public half as an XLSForm's public_key (base64 X.509 SPKI)."""
    from cryptography.hazmat.primitives import serialization

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(spki).decode()


def read_manifest(xml: bytes) -> Manifest:
    root = ElementTree.fromstring(xml)
    assert root.tag == f"{{{NS['e']}}}data", root.tag
    assert root.get("encrypted") == "yes"

    def text(path: str) -> str:
        found = root.find(path, NS)
        assert found is not None and found.text, path
        return found.text

    return Manifest(
        form_id=root.get("id") or "",
        version=root.get("version"),
        encrypted_key=text("e:base64EncryptedKey"),
        instance_id=text("orx:meta/orx:instanceID"),
        media=[f.text or "" for f in root.findall("e:media/e:file", NS)],
        xml_file=text("e:encryptedXmlFile"),
        signature=text("e:base64EncryptedElementSignature"),
    )


def decrypt(
    private: rsa.RSAPrivateKey, manifest: Manifest, files: dict[str, bytes]
) -> dict[str, bytes]:
    """The plaintext of every file (names without .enc), checking the signature on the way."""
    key = private.decrypt(base64.b64decode(manifest.encrypted_key), OAEP)
    assert len(key) == 32
    iv = bytearray(hashlib.md5(manifest.instance_id.encode() + key).digest())
    plain: dict[str, bytes] = {}
    for index, name in enumerate([*manifest.media, manifest.xml_file]):
        iv[index % 16] = (iv[index % 16] + 1) % 256
        decryptor = Cipher(algorithms.AES(key), CFB(bytes(iv))).decryptor()
        padded = decryptor.update(files[name]) + decryptor.finalize()
        pad = padded[-1]
        assert 1 <= pad <= 16 and padded.endswith(bytes([pad]) * pad), f"bad padding in {name}"
        plain[name.removesuffix(".enc")] = padded[:-pad]
    lines = [manifest.form_id, *([manifest.version] if manifest.version else [])]
    lines += [manifest.encrypted_key, manifest.instance_id]
    lines += [f"{name}::{hashlib.md5(data).hexdigest()}" for name, data in plain.items()]
    expected = hashlib.md5("".join(f"{line}\n" for line in lines).encode()).digest()
    assert private.decrypt(base64.b64decode(manifest.signature), OAEP) == expected, "signature"
    return plain
