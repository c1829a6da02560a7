"""Pure XML: read an XForm into its ordered fields, and a submission into its metadata and values.

Nothing here imports Flask or the database, so it is tested on literal XML. Device XML is
untrusted: it is parsed without DTDs, entities or network access, and a document that declares
a DOCTYPE is refused outright (ODK clients never send one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from collect.errors import InvalidForm, InvalidSubmission, Problem

XFORMS_NS = "http://www.w3.org/2002/xforms"
HTML_NS = "http://www.w3.org/1999/xhtml"
JR_NS = "http://openrosa.org/javarosa"
ODK_NS = "http://www.opendatakit.org/xforms"
ORX_NS = "http://openrosa.org/xforms"
ENCRYPTED_NS = "http://www.opendatakit.org/xforms/encrypted"

_CONTROLS = {"input", "select1", "select", "upload", "range", "rank", "trigger"}
_ITEXT_REF = re.compile(r"""jr:itext\(\s*['"]([^'"]+)['"]\s*\)""")
_ITEXT_PATH = re.compile(r"jr:itext\(\s*(\S+?)\s*\)")
_INSTANCE_REF = re.compile(r"""instance\(\s*['"]([^'"]+)['"]\s*\)""")
_MEDIA_REF = re.compile(r"jr://(images|audio|video|file|file-csv)/([^\s\"'<>]+)")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


# An `&` that starts none of XML's five named references or a character reference.
_BARE_AMPERSAND = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")


def parse_xml(data: bytes, *, what: str, bare_ampersands: bool = False) -> etree._Element:
    """Parse untrusted XML safely; `what` names the document in the error message.

    With `bare_ampersands`, an `&` that starts no XML reference is read as the character itself
    (`&nbsp;` as those six characters), as Central's parser reads submissions: pyodk's own tests
    send instance ids with a bare `&`, and Central stores them. The bytes stay as they came.
    """
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        if bare_ampersands and _BARE_AMPERSAND.search(data):
            return parse_xml(_BARE_AMPERSAND.sub(b"&amp;", data), what=what)
        raise _syntax_error(e, what) from e
    if root is None:
        raise InvalidSubmission(f"The {what} is empty.")
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise InvalidSubmission(f"The {what} declares a DOCTYPE, which is not accepted.")
    return root


def _syntax_error(e: etree.XMLSyntaxError, what: str) -> InvalidSubmission:
    message = e.msg or ""
    where = f" (line {e.lineno}, column {e.offset})" if e.lineno else ""
    if "EntityRef" in message:  # libxml2's words for an `&` that starts no reference
        return InvalidSubmission(
            f"The {what} has an '&' that is not written as '&amp;'{where}: write it as '&amp;'."
        )
    if "Entity '" in message:
        return InvalidSubmission(
            f"The {what} uses an XML entity that is not defined{where}; only &amp;, &lt;, &gt;, "
            "&quot;, &apos; and character references are accepted."
        )
    if "huge" in message.lower() or "too long" in message.lower():
        return InvalidSubmission(f"The {what} has a value too large to accept.")
    return InvalidSubmission(f"The {what} is not well-formed XML: {message}.")


def local(tag: object) -> str:
    """The local name of an element tag, without its namespace."""
    text = str(tag)
    return text.rsplit("}", 1)[-1]


@dataclass(frozen=True)
class Choice:
    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Field:
    """One node of a form's primary instance, in document order."""

    path: str  # from the instance root, e.g. "/group/age" (the root's own name is left out)
    name: str
    type: str  # bind type ("string", "int", "select1"...), or "structure" / "repeat"
    control: str | None = None  # body control: input, select1, select, upload, ... or None
    repeat: str | None = None  # path of the innermost repeat holding this node (itself if a repeat)
    calculate: bool = False
    list_name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    sensitive: bool = False

    @property
    def is_leaf(self) -> bool:
        return self.type not in ("structure", "repeat")

    @property
    def kind(self) -> str:
        """The question's kind as a form author names it (select_one, integer, text...)."""
        if self.type in ("structure", "repeat"):
            return self.type
        if self.control == "select1":
            return "select_one"
        if self.control in ("select", "rank"):
            return "select_multiple"
        return _KIND_BY_TYPE.get(self.type, "text")


_KIND_BY_TYPE = {
    "int": "integer",
    "integer": "integer",
    "decimal": "decimal",
    "date": "date",
    "dateTime": "datetime",
    "time": "time",
    "geopoint": "geopoint",
    "geotrace": "geotrace",
    "geoshape": "geoshape",
    "binary": "binary",
    "string": "text",
    "barcode": "text",
}


@dataclass(frozen=True)
class XForm:
    """What the server needs to know about an XForm definition."""

    form_id: str
    version: str
    title: str
    root_name: str
    fields: tuple[Field, ...]
    languages: tuple[str, ...]
    media: tuple[str, ...]  # file names the form refers to (jr://images/x.png, CSV itemsets)
    public_key: str | None
    submission_url: str | None
    # Each bind's calculate expression by the node's path, as written (e.g. meta/instanceName's
    # "concat( /data/observer_code , ' ', /data/region )"): what a computed value is made of.
    calculates: Mapping[str, str] = field(default_factory=dict)


def read_xform(data: bytes) -> XForm:
    """Read an XForm: id, version, title, ordered fields with labels and choices, media names."""
    try:
        root = parse_xml(data, what="XForm")
    except InvalidSubmission as e:
        raise InvalidForm(e.message) from e
    head = root.find(f"{{{HTML_NS}}}head")
    body = root.find(f"{{{HTML_NS}}}body")
    model = head.find(f"{{{XFORMS_NS}}}model") if head is not None else None
    if head is None or model is None:
        raise InvalidForm("The XForm has no <h:head>/<model>: is this an XForm?")
    instances = model.findall(f"{{{XFORMS_NS}}}instance")
    primary = next((i for i in instances if i.get("id") is None), None)
    data_root = None
    if primary is not None:
        data_root = next((c for c in primary if isinstance(c.tag, str)), None)
    if data_root is None:
        raise InvalidForm("The XForm has no primary instance.")
    form_id = data_root.get("id") or ""
    if not form_id:
        raise InvalidForm("The XForm's primary instance has no id attribute (the form id).")
    title_el = head.find(f"{{{HTML_NS}}}title")
    translations = _itext(model)
    secondary = {i.get("id"): i for i in instances if i.get("id") is not None}
    binds = {
        _relative(b.get("nodeset") or "", data_root): b
        for b in model.iter(f"{{{XFORMS_NS}}}bind")
        if b.get("nodeset")
    }
    controls = _controls(body, data_root) if body is not None else {}
    repeats = {path for path, el in controls.items() if local(el.tag) == "repeat"}
    fields = list(_walk(data_root, "", None, binds, controls, repeats, translations, secondary))
    submission = model.find(f"{{{XFORMS_NS}}}submission")
    media = sorted({m.group(2) for m in _MEDIA_REF.finditer(data.decode("utf-8", "replace"))})
    return XForm(
        form_id=form_id,
        version=data_root.get("version") or "",
        title=(title_el.text or "").strip() if title_el is not None else form_id,
        root_name=local(data_root.tag),
        fields=tuple(fields),
        languages=tuple(translations),
        media=tuple(media),
        public_key=submission.get("base64RsaPublicKey") if submission is not None else None,
        submission_url=submission.get("action") if submission is not None else None,
        calculates={
            path: bind.get("calculate") or ""
            for path, bind in binds.items()
            if bind.get("calculate") is not None
        },
    )


def _relative(nodeset: str, data_root: etree._Element) -> str:
    prefix = "/" + local(data_root.tag)
    path = nodeset.strip()
    if path == prefix:
        return "/"
    if path.startswith(prefix + "/"):
        return path[len(prefix) :]
    return path


def _itext(model: etree._Element) -> dict[str, dict[str, str]]:
    """Language -> itext id -> label text (the plain form, not images or audio)."""
    out: dict[str, dict[str, str]] = {}
    itext = model.find(f"{{{XFORMS_NS}}}itext")
    if itext is None:
        return out
    for tr in itext.findall(f"{{{XFORMS_NS}}}translation"):
        texts: dict[str, str] = {}
        for text in tr.findall(f"{{{XFORMS_NS}}}text"):
            values = text.findall(f"{{{XFORMS_NS}}}value")
            plain = [v for v in values if v.get("form") in (None, "long", "short")]
            chosen = plain[0] if plain else None
            if chosen is not None:
                texts[text.get("id") or ""] = _text_content(chosen)
        out[tr.get("lang") or "default"] = texts
    return out


def _text_content(el: etree._Element) -> str:
    return "".join(str(t) for t in el.itertext()).strip()


def _controls(body: etree._Element, data_root: etree._Element) -> dict[str, etree._Element]:
    found: dict[str, etree._Element] = {}
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        ref = el.get("nodeset") if local(el.tag) == "repeat" else el.get("ref")
        if ref and (local(el.tag) in _CONTROLS or local(el.tag) in ("repeat", "group")):
            path = _relative(ref, data_root)
            # A repeat and its surrounding group share a ref: the repeat wins.
            if path not in found or local(el.tag) == "repeat":
                found[path] = el
    return found


def _labels(
    el: etree._Element | None, translations: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    if el is None:
        return {}
    label = el.find(f"{{{XFORMS_NS}}}label")
    if label is None:
        return {}
    ref = label.get("ref") or ""
    match = _ITEXT_REF.search(ref)
    if match:
        return {
            lang: texts[match.group(1)]
            for lang, texts in translations.items()
            if match.group(1) in texts
        }
    text = _text_content(label)
    return {"default": text} if text else {}


def _choices(
    el: etree._Element,
    translations: Mapping[str, Mapping[str, str]],
    secondary: Mapping[str | None, etree._Element],
) -> tuple[str | None, tuple[Choice, ...]]:
    items = el.findall(f"{{{XFORMS_NS}}}item")
    if items:
        out = []
        for item in items:
            value = item.find(f"{{{XFORMS_NS}}}value")
            out.append(
                Choice(
                    _text_content(value) if value is not None else "", _labels(item, translations)
                )
            )
        return None, tuple(out)
    itemset = el.find(f"{{{XFORMS_NS}}}itemset")
    if itemset is None:
        return None, ()
    match = _INSTANCE_REF.search(itemset.get("nodeset") or "")
    if not match:
        return None, ()
    list_name = match.group(1)
    inst = secondary.get(list_name)
    if inst is None or inst.get("src"):
        return list_name, ()
    value_ref = itemset.find(f"{{{XFORMS_NS}}}value")
    label_ref = itemset.find(f"{{{XFORMS_NS}}}label")
    value_name = (value_ref.get("ref") if value_ref is not None else None) or "name"
    label_expr = (label_ref.get("ref") if label_ref is not None else None) or "label"
    itext_field = _ITEXT_PATH.search(label_expr)
    choices = []
    root = next((c for c in inst if isinstance(c.tag, str)), None)
    for item in root if root is not None else []:
        if not isinstance(item.tag, str):
            continue
        children = {local(c.tag): _text_content(c) for c in item if isinstance(c.tag, str)}
        name = children.get(value_name, "")
        if itext_field:
            key = children.get(itext_field.group(1), "")
            labels = {lang: texts[key] for lang, texts in translations.items() if key in texts}
        else:
            text = children.get(label_expr, "")
            labels = {"default": text} if text else {}
        choices.append(Choice(name, labels))
    return list_name, tuple(choices)


def _walk(
    el: etree._Element,
    parent: str,
    repeat: str | None,
    binds: Mapping[str, etree._Element],
    controls: Mapping[str, etree._Element],
    repeats: set[str],
    translations: Mapping[str, Mapping[str, str]],
    secondary: Mapping[str | None, etree._Element],
) -> Iterator[Field]:
    seen: set[str] = set()
    for child in el:
        if not isinstance(child.tag, str):
            continue
        name = local(child.tag)
        path = f"{parent}/{name}"
        if path in seen:  # repeat instances other than the template add nothing new
            continue
        seen.add(path)
        bind = binds.get(path)
        control = controls.get(path)
        has_children = any(isinstance(c.tag, str) for c in child)
        is_repeat = path in repeats
        if is_repeat or has_children:
            inner = path if is_repeat else repeat
            yield Field(
                path=path,
                name=name,
                type="repeat" if is_repeat else "structure",
                control=None,
                repeat=inner,
                labels=_labels(control, translations),
            )
            yield from _walk(child, path, inner, binds, controls, repeats, translations, secondary)
            continue
        control_name = local(control.tag) if control is not None else None
        list_name: str | None = None
        choices: tuple[Choice, ...] = ()
        if control is not None and control_name in ("select1", "select", "rank"):
            list_name, choices = _choices(control, translations, secondary)
        bind_type = (bind.get("type") if bind is not None else None) or "string"
        yield Field(
            path=path,
            name=name,
            type=bind_type.split(":")[-1],
            control=control_name,
            repeat=repeat,
            calculate=bind is not None and bind.get("calculate") is not None,
            list_name=list_name,
            labels=_labels(control, translations),
            choices=choices,
        )


# Submissions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionMeta:
    """What the server reads from a submission's XML before storing it."""

    form_id: str
    version: str
    instance_id: str
    instance_name: str | None
    deprecated_id: str | None
    encrypted: bool
    media_files: tuple[str, ...]  # encrypted envelope: <media><file> names, then the XML's .enc


def submission_meta(root: etree._Element) -> SubmissionMeta:
    """Read id, version, instanceID, instanceName and deprecatedID from a parsed submission."""
    form_id = root.get("id") or ""
    if not form_id:
        raise InvalidSubmission(
            "The submission's root element has no id attribute, so its form is unknown."
        )
    meta = next((c for c in root if isinstance(c.tag, str) and local(c.tag) == "meta"), None)
    values: dict[str, str] = {}
    if meta is not None:
        for c in meta:
            if isinstance(c.tag, str):
                values[local(c.tag)] = (c.text or "").strip()
    instance_id = values.get("instanceID") or (root.get("instanceID") or "").strip()
    if not instance_id:
        raise InvalidSubmission(
            "The submission has no meta/instanceID: update the form so that it records one."
        )
    encrypted = (root.get("encrypted") or "").lower() in ("yes", "true")
    media: list[str] = []
    if encrypted:
        for c in root:
            if not isinstance(c.tag, str):
                continue
            if local(c.tag) == "media":
                media.extend(
                    (f.text or "").strip()
                    for f in c
                    if isinstance(f.tag, str) and (f.text or "").strip()
                )
            elif local(c.tag) == "encryptedXmlFile" and (c.text or "").strip():
                media.append((c.text or "").strip())
    return SubmissionMeta(
        form_id=form_id,
        version=root.get("version") or "",
        instance_id=instance_id,
        instance_name=values.get("instanceName") or None,
        deprecated_id=values.get("deprecatedID") or None,
        encrypted=encrypted,
        media_files=tuple(media),
    )


Values = dict[str, Any]  # path -> text, or repeat path -> list of Values


def submission_values(root: etree._Element, fields: tuple[Field, ...] | list[Field]) -> Values:
    """Flatten a submission into {path: text} with repeats as lists of the same, by form fields.

    Nodes the form does not know are kept too (an older or newer version may have them), so a
    value is never dropped on the way to an export.
    """
    repeats = {f.path for f in fields if f.type == "repeat"}
    return _values(root, "", repeats)


def _values(el: etree._Element, parent: str, repeats: set[str]) -> Values:
    out: Values = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        path = f"{parent}/{local(child.tag)}"
        has_children = any(isinstance(c.tag, str) for c in child)
        if path in repeats:
            out.setdefault(path, []).append(_values(child, path, repeats))
        elif has_children:
            out.update(_values(child, path, repeats))
        else:
            out[path] = child.text or ""
    return out


def binary_names(values: Values, fields: tuple[Field, ...] | list[Field]) -> list[str]:
    """File names that binary questions of a submission refer to, in document order."""
    binaries = {f.path for f in fields if f.type == "binary"}
    names: list[str] = []

    def visit(vals: Values) -> None:
        for path, value in vals.items():
            if isinstance(value, list):
                for item in value:
                    visit(item)
            elif path in binaries and value.strip():
                names.append(value.strip())

    visit(values)
    return list(dict.fromkeys(names))


def problems_from_fields(fields: tuple[Field, ...]) -> list[Problem]:
    """Structural problems the server cannot live with, beyond what pyxform checks."""
    problems = []
    if not any(f.path == "/meta/instanceID" for f in fields):
        problems.append(
            Problem("The form has no meta/instanceID, so submissions could not be told apart.")
        )
    return problems
