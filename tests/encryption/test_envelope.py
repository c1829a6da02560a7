"""Envelopes sealed by Collect's algorithm (in Java) open with the server's decryption, or fail
with the error a manager can act on: wrong key, damaged, incomplete, signature mismatch."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from collect.domain.encryption import envelope, keys
from collect.domain.encryption.envelope import Envelope
from collect.errors import (
    DecryptionFailed,
    EnvelopeCorrupt,
    EnvelopeIncomplete,
    SignatureMismatch,
    WrongKey,
)
from tests.encryption.collect_crypto import CollectEncryptor, Sealed

ENC_NS = "http://www.opendatakit.org/xforms/encrypted"
ORX_NS = "http://openrosa.org/xforms"


def submission(form_id: str, instance_id: str, body: str, version: str = "2024010101") -> bytes:
    """A submission as JavaRosa serialises it (declaration, ids on the root, meta last)."""
    return (
        f'<?xml version=\'1.0\' ?><data id="{form_id}" version="{version}" '
        f'xmlns:orx="{ORX_NS}">{body}'
        f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


@pytest.fixture
def seal(
    collect_crypto: CollectEncryptor, managed: keys.ManagedKey, tmp_path: Path
) -> Callable[..., Sealed]:
    """Seal a submission for the managed key as Collect would; returns the files it sends."""

    def _seal(**kwargs: object) -> Sealed:
        kwargs.setdefault("public_key", managed.public)
        kwargs.setdefault("form_id", "household")
        kwargs.setdefault("version", "2024010101")
        kwargs.setdefault("instance_id", f"uuid:{uuid.uuid4()}")
        if "xml" not in kwargs:
            kwargs["xml"] = submission(
                str(kwargs["form_id"]), str(kwargs["instance_id"]), "<name>Amina</name>"
            )
        return collect_crypto.seal(tmp_path / uuid.uuid4().hex, **kwargs)  # type: ignore[arg-type]

    return _seal


def plaintext(env: Envelope, name: str, source: bytes) -> bytes:
    return b"".join(env.decrypt(name, source))


def test_envelope_with_several_media_opens_to_the_exact_bytes(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    media = [
        ("1712345678901.jpg", os.urandom(10_000)),
        ("voice.m4a", os.urandom(4097)),
        ("blank.txt", b""),
        ("sixteen.bin", os.urandom(16)),
    ]
    instance_id = f"uuid:{uuid.uuid4()}"
    xml = submission("household", instance_id, "<photo>1712345678901.jpg</photo><n>3</n>")
    sealed = seal(instance_id=instance_id, xml=xml, media=media)
    files = sealed.files()

    env = Envelope.open(sealed.manifest, private_key)
    assert env.read(files.get) == xml
    for name, content in media:
        assert plaintext(env, f"{name}.enc", files[f"{name}.enc"]) == content
    env.verify()
    m = env.manifest
    assert (m.form_id, m.version, m.instance_id) == ("household", "2024010101", instance_id)
    assert m.media == tuple(f"{name}.enc" for name, _ in media)
    assert m.files == sealed.names
    # Ciphertext is padded to whole AES blocks; an empty file is one block of padding.
    assert len(files["blank.txt.enc"]) == 16
    assert len(files["sixteen.bin.enc"]) == 32


def test_the_manifest_is_shaped_as_collect_writes_it(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal(media=[("a.jpg", b"a"), ("b.jpg", b"b")])
    root = etree.fromstring(sealed.manifest)
    assert root.tag == f"{{{ENC_NS}}}data"
    assert list(root.attrib) == ["id", "version", "encrypted"]
    assert root.get("encrypted") == "yes"
    assert [etree.QName(c).localname for c in root] == [
        "base64EncryptedKey",
        "meta",
        "media",
        "media",
        "encryptedXmlFile",
        "base64EncryptedElementSignature",
    ]
    assert root[1].tag == f"{{{ORX_NS}}}meta"
    assert [f.text for f in root.iter(f"{{{ENC_NS}}}file")] == ["a.jpg.enc", "b.jpg.enc"]
    assert not sealed.manifest.startswith(b"<?xml")


def test_form_without_version_signs_without_the_version_line(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal(version=None, media=[("a.jpg", b"photo")])
    assert b"version=" not in sealed.manifest
    env = Envelope.open(sealed.manifest, private_key)
    assert env.manifest.version is None
    assert b"<name>Amina</name>" in env.read(sealed.files().get)


def test_unicode_in_form_id_file_names_and_answers(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    instance_id = f"uuid:{uuid.uuid4()}"
    answers = "<nom>Zoë Ñúñez</nom><ar>شهادة</ar><note>✊🏽 «sûr»</note>"
    xml = submission("témoignage_été", instance_id, answers, version="v1 ü")
    sealed = seal(
        form_id="témoignage_été",
        version="v1 ü",
        instance_id=instance_id,
        xml=xml,
        media=[("фото.jpg", "ünïcödé".encode())],
    )
    env = Envelope.open(sealed.manifest, private_key)
    assert env.read(sealed.files().get).decode("utf-8") == xml.decode("utf-8")
    assert env.manifest.form_id == "témoignage_été"
    assert env.manifest.media == ("фото.jpg.enc",)


def test_seventeen_files_run_the_iv_counter_past_sixteen_bytes(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    # The k-th file increments IV byte k % 16, so the 17th file touches byte 0 a second time.
    media = [(f"p{k:02}.jpg", os.urandom(50 + k)) for k in range(17)]
    sealed = seal(media=media)
    files = sealed.files()
    env = Envelope.open(sealed.manifest, private_key)
    env.read(files.get)
    assert [plaintext(env, f"{n}.enc", files[f"{n}.enc"]) for n, _ in media] == [
        c for _, c in media
    ]


def test_a_large_video_is_decrypted_in_chunks_from_a_file(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    video = tmp_path / "video.mp4"
    digest = hashlib.md5()
    with video.open("wb") as f:
        for _ in range(24):
            block = os.urandom(1024 * 1024)
            digest.update(block)
            f.write(block)
    sealed = seal(media=[("video.mp4", video)])
    env = Envelope.open(sealed.manifest, private_key)

    tracemalloc.start()
    try:
        got = hashlib.md5()
        sizes = []
        with sealed.path("video.mp4.enc").open("rb") as source:
            for chunk in env.decrypt("video.mp4.enc", source):
                got.update(chunk)
                sizes.append(len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.hexdigest() == digest.hexdigest()
    assert max(sizes) <= envelope.CHUNK + 16
    assert peak < 1024 * 1024  # 24 MiB went through; well under one MiB was held at once
    with sealed.path("submission.xml.enc").open("rb") as source:
        assert b"Amina" in env.decrypt_bytes("submission.xml.enc", source)
    env.verify()


def test_envelope_for_another_key_is_refused_as_wrong_key(seal: Callable[..., Sealed]) -> None:
    sealed = seal()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(WrongKey, match="encrypted for a different key") as e:
        Envelope.open(sealed.manifest, other)
    assert e.value.status == 400
    assert e.value.reason == "key"


def test_changed_media_byte_is_a_signature_mismatch(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal(media=[("photo.jpg", os.urandom(5000))])
    files = sealed.files()
    damaged = bytearray(files["photo.jpg.enc"])
    damaged[1000] ^= 0x01
    files["photo.jpg.enc"] = bytes(damaged)
    env = Envelope.open(sealed.manifest, private_key)
    with pytest.raises(SignatureMismatch, match="do not match the signature"):
        env.read(files.get)


def test_changed_submission_xml_byte_is_a_signature_mismatch(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal()
    files = sealed.files()
    damaged = bytearray(files["submission.xml.enc"])
    damaged[20] ^= 0x40
    files["submission.xml.enc"] = bytes(damaged)
    with pytest.raises(SignatureMismatch):
        Envelope.open(sealed.manifest, private_key).read(files.get)


def test_truncated_file_is_corrupt(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal(media=[("photo.jpg", os.urandom(3000))])
    files = sealed.files()
    files["photo.jpg.enc"] = files["photo.jpg.enc"][:-5]
    with pytest.raises(EnvelopeCorrupt, match=r"photo\.jpg\.enc .* cut short"):
        Envelope.open(sealed.manifest, private_key).read(files.get)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("id", "another_form"), ("version", "2099")],
)
def test_manifest_with_changed_form_id_or_version_is_a_signature_mismatch(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey, attribute: str, value: str
) -> None:
    sealed = seal(media=[("a.jpg", b"photo")])
    root = etree.fromstring(sealed.manifest)
    root.set(attribute, value)
    with pytest.raises(SignatureMismatch):
        Envelope.open(etree.tostring(root), private_key).read(sealed.files().get)


def test_manifest_with_media_order_swapped_does_not_decrypt(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    # The IV follows the manifest's order: swapping the entries gives each file the other's IV.
    sealed = seal(media=[("a.jpg", os.urandom(300)), ("b.jpg", os.urandom(300))])
    swapped = sealed.manifest.replace(b"a.jpg.enc", b"TMP").replace(b"b.jpg.enc", b"a.jpg.enc")
    swapped = swapped.replace(b"TMP", b"b.jpg.enc")
    with pytest.raises((SignatureMismatch, EnvelopeCorrupt)):
        Envelope.open(swapped, private_key).read(sealed.files().get)


def test_signature_of_another_envelope_is_a_mismatch(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    first, second = seal(), seal()
    theirs = etree.fromstring(second.manifest)[-1].text or ""
    root = etree.fromstring(first.manifest)
    root[-1].text = theirs
    with pytest.raises(SignatureMismatch):
        Envelope.open(etree.tostring(root), private_key).read(first.files().get)


def test_manifest_without_signature_is_not_trusted(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal()
    root = etree.fromstring(sealed.manifest)
    root.remove(root[-1])
    with pytest.raises(SignatureMismatch, match="has no signature"):
        Envelope.open(etree.tostring(root), private_key).read(sealed.files().get)


def test_missing_media_file_is_incomplete_and_named(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal(media=[("a.jpg", b"first"), ("b.jpg", b"second")])
    files = sealed.files()
    del files["b.jpg.enc"]
    with pytest.raises(EnvelopeIncomplete, match=r"missing its file b\.jpg\.enc") as e:
        Envelope.open(sealed.manifest, private_key).read(files.get)
    assert e.value.reason == "missing"


def test_verify_needs_every_file_decrypted(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal(media=[("a.jpg", b"first")])
    files = sealed.files()
    env = Envelope.open(sealed.manifest, private_key)
    env.decrypt_bytes("submission.xml.enc", files["submission.xml.enc"])
    with pytest.raises(EnvelopeIncomplete, match=r"a\.jpg\.enc"):
        env.verify()


def test_a_file_that_changes_between_two_reads_is_a_mismatch(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    # An export verifies first, then streams the media again: the second read must match.
    sealed = seal(media=[("a.jpg", os.urandom(400)), ("b.jpg", os.urandom(400))])
    files = sealed.files()
    env = Envelope.open(sealed.manifest, private_key)
    env.read(files.get)
    changed = bytearray(files["a.jpg.enc"])
    changed[100] ^= 0x01
    with pytest.raises(SignatureMismatch):
        plaintext(env, "a.jpg.enc", bytes(changed))


def test_file_not_in_the_manifest_is_refused(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal()
    env = Envelope.open(sealed.manifest, private_key)
    with pytest.raises(EnvelopeCorrupt, match=r"lists no file other\.jpg\.enc"):
        plaintext(env, "other.jpg.enc", b"\0" * 16)


def test_decrypt_reads_a_file_object(
    seal: Callable[..., Sealed], private_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal()
    env = Envelope.open(sealed.manifest, private_key)
    opened = io.BytesIO(sealed.files()["submission.xml.enc"])
    assert env.read(lambda name: opened).startswith(b"<?xml")


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (b"<data id='f'><meta><instanceID>uuid:1</instanceID></meta></data>", "not encrypted"),
        (b"<data id='f' encrypted='yes'><meta/></data>", "no meta/instanceID"),
        (b"<!DOCTYPE d [<!ENTITY e 'x'>]><data id='f'>&e;</data>", "DOCTYPE"),
        (b"<data", "not well-formed"),
        (
            b"<data id='f' encrypted='yes'><meta><instanceID>uuid:1</instanceID></meta>"
            b"<encryptedXmlFile>submission.xml.enc</encryptedXmlFile></data>",
            "no base64EncryptedKey",
        ),
        (
            b"<data id='f' encrypted='yes'><base64EncryptedKey>@@@</base64EncryptedKey>"
            b"<meta><instanceID>uuid:1</instanceID></meta>"
            b"<encryptedXmlFile>submission.xml.enc</encryptedXmlFile></data>",
            "not valid base64",
        ),
    ],
)
def test_unreadable_manifest_is_corrupt(manifest: bytes, message: str) -> None:
    with pytest.raises(EnvelopeCorrupt, match=message) as e:
        envelope.read_manifest(manifest)
    assert isinstance(e.value, DecryptionFailed)
    assert e.value.code == 400.12
