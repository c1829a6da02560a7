"""Forms for the OpenRosa tests (XLSForm markdown, converted by pyxform) and instance builders.

`instance()` writes the two serialisations real clients produce: JavaRosa's (ODK Collect:
single-quoted declaration, namespace declarations on the root, `<x />` for empty) and ODK Web
Forms' (no declaration, no namespaces). The JavaRosa style here is copied from instances the
JavaRosa engine wrote (see javarosa.py, which makes real ones when Java is installed).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Union
from xml.sax.saxutils import escape, quoteattr

from pyxform.xls2xform import convert

HOUSEHOLD_MD = """
| survey   |              |             |                    |
|          | type         | name        | label              |
|          | text         | respondent  | Respondent         |
|          | integer      | age         | Age                |
|          | image        | photo       | Photo of the house |
|          | begin_repeat | visit       | Visit              |
|          | date         | visit_date  | Date               |
|          | image        | visit_photo | Photo of the visit |
|          | end_repeat   |             |                    |
|          | text         | notes       | Notes              |
| settings |              |             |                    |
|          | form_id      | version     | instance_name      |
|          | household    | {version}   | concat('HH ', ${{respondent}}) |
"""

MEDIA_MD = """
| survey   |            |         |                 |          |
|          | type       | name    | label           | image    |
|          | note       | welcome | Welcome         | logo.png |
|          | text       | name    | Your name       |          |
| settings |            |         |                 |          |
|          | form_id    | version |                 |          |
|          | with_media | 1       |                 |          |
"""

# A public key is all the server sees of encryption; the device encrypts, the server stores.
ENCRYPTED_MD = """
| survey   |          |          |            |
|          | type     | name     | label      |
|          | text     | secret   | Secret     |
|          | image    | photo    | Photo      |
| settings |          |          |            |
|          | form_id  | version  | public_key |
|          | sealed   | 1        | MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu9rHs2wd0gsQ1uYs |
"""

JR_NAMESPACES = (
    ' xmlns:ev="http://www.w3.org/2001/xml-events" xmlns:orx="http://openrosa.org/xforms"'
    ' xmlns:odk="http://www.opendatakit.org/xforms" xmlns:h="http://www.w3.org/1999/xhtml"'
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:jr="http://openrosa.org/javarosa"'
)

Node = tuple[str, Union[str, "Sequence[Node]"]]


def xform(markdown: str, **settings: str) -> bytes:
    """Convert an XLSForm written as a markdown table (formatted with `settings`) to XForm."""
    text = markdown.format(**settings) if settings else markdown
    converted: bytes = convert(xlsform=text).xform.encode("utf-8")
    return converted


def household_xml(version: str = "1") -> bytes:
    return xform(HOUSEHOLD_MD, version=version)


def new_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def instance(
    form_id: str,
    version: str,
    nodes: Sequence[Node],
    *,
    instance_id: str | None = None,
    instance_name: str | None = None,
    deprecated_id: str | None = None,
    style: str = "javarosa",
) -> bytes:
    """A submission for `form_id`: the given nodes, then meta (instanceID, name, deprecatedID)."""
    meta: list[Node] = [("instanceID", instance_id or new_id())]
    if instance_name is not None:
        meta.append(("instanceName", instance_name))
    if deprecated_id is not None:
        meta.append(("deprecatedID", deprecated_id))
    body = _render([*nodes, ("meta", meta)], style)
    attributes = f"id={quoteattr(form_id)} version={quoteattr(version)}"
    if style == "javarosa":
        declaration = "<?xml version='1.0' encoding='UTF-8' ?>"
        return f"{declaration}<data {attributes}{JR_NAMESPACES}>{body}</data>".encode()
    if style == "webforms":
        return f"<data {attributes}>{body}</data>".encode()
    raise ValueError(style)


def _render(nodes: Sequence[Node], style: str) -> str:
    out = []
    for name, value in nodes:
        if isinstance(value, str):
            if value:
                out.append(f"<{name}>{escape(value)}</{name}>")
            else:
                out.append(f"<{name} />" if style == "javarosa" else f"<{name}/>")
        else:
            out.append(f"<{name}>{_render(value, style)}</{name}>")
    return "".join(out)


def household(
    *,
    respondent: str = "Amina",
    photo: str = "",
    visits: Sequence[tuple[str, str]] = (),
    notes: str = "",
    version: str = "1",
    **kw: str,
) -> bytes:
    """A household submission; visits are (date, photo file name)."""
    nodes: list[Node] = [
        ("respondent", respondent),
        ("age", "41"),
        ("photo", photo),
        *[("visit", [("visit_date", d), ("visit_photo", p)]) for d, p in visits],
        ("notes", notes),
    ]
    return instance("household", version, nodes, instance_name=f"HH {respondent}", **kw)


def encrypted_envelope(
    instance_id: str, media: Sequence[str], *, form_id: str = "sealed", version: str = "1"
) -> bytes:
    """The plaintext manifest Collect sends for an encrypted form (EncryptionUtils)."""
    files = "".join(f"<file>{escape(m)}</file>" for m in media)
    return (
        f'<data xmlns="http://www.opendatakit.org/xforms/encrypted" id="{form_id}" '
        f'version="{version}" encrypted="yes">'
        "<base64EncryptedKey>c2VjcmV0IGtleQ==</base64EncryptedKey>"
        '<orx:meta xmlns:orx="http://openrosa.org/xforms">'
        f"<orx:instanceID>{instance_id}</orx:instanceID></orx:meta>"
        f"<media>{files}</media>"
        "<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>"
        "<base64EncryptedElementSignature>c2lnbmF0dXJl</base64EncryptedElementSignature>"
        "</data>"
    ).encode()


def jpeg(size: int = 2048, seed: int = 0) -> bytes:
    """Bytes that start like a JPEG; `seed` makes each photo different."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + seed.to_bytes(8, "big")
    return (head + bytes(range(256)) * (size // 256 + 1))[:size]


def as_edit(xml: bytes, instance_id: str) -> bytes:
    """The instance as Collect finalises an edit: a new instanceID, the old one deprecated."""
    old = f"<instanceID>{instance_id}</instanceID>".encode()
    new = f"<instanceID>{new_id()}</instanceID><deprecatedID>{instance_id}</deprecatedID>"
    assert old in xml
    return xml.replace(old, new.encode())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
