"""Forms and their versions: upload, draft, media, publish, states, and reading them back."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from collect.domain.evaluation import checks
from collect.domain.forms import fields as form_fields
from collect.domain.forms import xform, xlsform
from collect.domain.people import access, audits
from collect.errors import AlreadyExists, BadRequest, InvalidForm, NotFound, VersionTaken
from collect.storage import blobs
from collect.storage.db import db
from collect.storage.models import (
    Actor,
    Blob,
    Form,
    FormAttachment,
    FormDef,
    Submission,
)

STATES = ("open", "closing", "closed")
_MEDIA_TYPES = {"images": "image", "audio": "audio", "video": "video"}
_SAFE_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,255}$")


@dataclass(frozen=True)
class Upload:
    """An uploaded form file and how the admin asked for it to be handled."""

    body: bytes
    content_type: str
    ignore_warnings: bool = False
    fallback_id: str | None = None


def find(project_id: int, xml_form_id: str) -> Form:
    """A live form of a project by its form id (no access check: callers make theirs)."""
    form = db.session.scalar(
        select(Form).where(
            Form.project_id == project_id,
            Form.xml_form_id == xml_form_id,
            Form.deleted_at.is_(None),
        )
    )
    if form is None:
        raise NotFound(f"There is no form '{xml_form_id}' in this project.")
    return form


def get(actor: Actor, project_id: int, xml_form_id: str) -> Form:
    """A form of the project, if the actor may read it."""
    access.require(actor, "form.read", project_id)
    return find(project_id, xml_form_id)


def listed(actor: Actor, project_id: int) -> list[Form]:
    """The project's forms, by form id."""
    access.require(actor, "form.read", project_id)
    return list(
        db.session.scalars(
            select(Form)
            .where(Form.project_id == project_id, Form.deleted_at.is_(None))
            .order_by(Form.xml_form_id)
        )
    )


def create(
    actor: Actor, project_id: int, upload: Upload, *, publish: bool, validate_mode: str
) -> Form:
    """Create a form from its first upload: a draft, or published at once."""
    access.require(actor, "form.create", project_id)
    converted, parsed = _prepare(upload, validate_mode)
    existing = db.session.scalar(
        select(Form).where(Form.project_id == project_id, Form.xml_form_id == parsed.form_id)
    )
    if existing is not None:
        raise AlreadyExists(
            f"A form with the id '{parsed.form_id}' already exists in this project: "
            "upload a new version of it as a draft instead."
        )
    form = Form(project_id=project_id, xml_form_id=parsed.form_id, created_by=actor.id)
    db.session.add(form)
    db.session.flush()
    definition = _store_def(actor, form, converted, parsed, validate_mode)
    form.draft_def_id = definition.id
    if publish:
        _publish(form, definition, None)
    audits.log(actor, "form.create", f"form:{form.id}", xmlFormId=form.xml_form_id, publish=publish)
    db.session.commit()
    return form


def new_draft(
    actor: Actor, project_id: int, xml_form_id: str, upload: Upload | None, *, validate_mode: str
) -> FormDef:
    """Start a new draft from a new file, or from the published version when no file is sent."""
    access.require(actor, "form.update", project_id)
    form = find(project_id, xml_form_id)
    if upload is None or not upload.body:
        if form.current_def is None:
            raise BadRequest("The form has no published version to copy: send a form file.")
        sensitive = frozenset(f.name for f in form.current_def.fields if f.sensitive)
        converted = xlsform.Converted(form.current_def.xml, None, None, (), sensitive, None)
        parsed = xform.read_xform(converted.xml)
    else:
        converted, parsed = _prepare(upload, validate_mode)
    if parsed.form_id != form.xml_form_id:
        raise BadRequest(
            f"The uploaded form's id is '{parsed.form_id}', not '{form.xml_form_id}': a new "
            "version must keep the form id (settings sheet, form_id column)."
        )
    old_draft = form.draft_def
    definition = _store_def(actor, form, converted, parsed, validate_mode)
    if upload is None or not upload.body:
        assert form.current_def is not None
        definition.xls_blob_id = form.current_def.xls_blob_id
        definition.xls_content_type = form.current_def.xls_content_type
        definition.indicators = form.current_def.indicators
    _carry_media(form.current_def, definition)
    form.draft_def_id = definition.id
    if old_draft is not None and old_draft.published_at is None:
        _carry_media(old_draft, definition)
    audits.log(actor, "form.draft.create", f"form:{form.id}", version=definition.version)
    db.session.commit()
    return definition


def attach(
    actor: Actor, project_id: int, xml_form_id: str, name: str, data: bytes, content_type: str
) -> FormAttachment:
    """Upload a media file the draft expects (an image, audio, or a CSV for choices)."""
    access.require(actor, "form.update", project_id)
    form = find(project_id, xml_form_id)
    draft = form.draft_def
    if draft is None or draft.published_at is not None:
        raise NotFound("The form has no draft: create one before uploading media.")
    attachment = next((a for a in draft.attachments if a.name == name), None)
    if attachment is None:
        expected = ", ".join(a.name for a in draft.attachments) or "none"
        raise NotFound(
            f"The form does not use a file named '{name}'. Files it expects: {expected}."
        )
    attachment.blob_id = blobs.put(data, content_type or "application/octet-stream").id
    attachment.updated_at = datetime.now(UTC)
    audits.log(actor, "form.attachment.update", f"form:{form.id}", name=name)
    db.session.commit()
    return attachment


def publish(actor: Actor, project_id: int, xml_form_id: str, version: str | None) -> Form:
    """Publish the draft, optionally under a new version string."""
    access.require(actor, "form.update", project_id)
    form = find(project_id, xml_form_id)
    draft = form.draft_def
    if draft is None or draft.published_at is not None:
        raise NotFound("The form has no draft to publish.")
    _publish(form, draft, version)
    audits.log(actor, "form.publish", f"form:{form.id}", version=draft.version)
    db.session.commit()
    return form


def set_state(actor: Actor, project_id: int, xml_form_id: str, state: str) -> Form:
    """Open, close to new devices (closing) or close a form to submissions."""
    access.require(actor, "form.update", project_id)
    if state not in STATES:
        raise BadRequest(f"A form's state is one of {', '.join(STATES)}, not '{state}'.")
    form = find(project_id, xml_form_id)
    form.state = state
    audits.log(actor, "form.update", f"form:{form.id}", state=state)
    db.session.commit()
    return form


def versions(actor: Actor, project_id: int, xml_form_id: str) -> list[FormDef]:
    """Published versions, newest first."""
    form = get(actor, project_id, xml_form_id)
    return list(
        db.session.scalars(
            select(FormDef)
            .where(FormDef.form_id == form.id, FormDef.published_at.isnot(None))
            .order_by(FormDef.published_at.desc(), FormDef.id.desc())
        )
    )


def published(form: Form) -> list[FormDef]:
    """Published versions, oldest first."""
    return list(
        db.session.scalars(
            select(FormDef)
            .where(FormDef.form_id == form.id, FormDef.published_at.isnot(None))
            .order_by(FormDef.published_at, FormDef.id)
        )
    )


def definition(actor: Actor, project_id: int, xml_form_id: str, *, draft: bool = False) -> FormDef:
    """The published version (or the draft) of a form."""
    form = get(actor, project_id, xml_form_id)
    found = form.draft_def if draft else form.current_def
    if found is None or (draft and found.published_at is not None):
        raise NotFound("The form has no draft." if draft else "The form is not published yet.")
    return found


def version(actor: Actor, project_id: int, xml_form_id: str, version_string: str) -> FormDef:
    form = get(actor, project_id, xml_form_id)
    found = db.session.scalar(
        select(FormDef).where(
            FormDef.form_id == form.id,
            FormDef.version == version_string,
            FormDef.published_at.isnot(None),
        )
    )
    if found is None:
        raise NotFound(f"The form has no published version '{version_string}'.")
    return found


def workbook_blob(definition: FormDef) -> Blob | None:
    """The uploaded workbook of a version (None when it was uploaded as XForm XML)."""
    return db.session.get(Blob, definition.xls_blob_id) if definition.xls_blob_id else None


def submission_stats(form: Form) -> tuple[int, datetime | None]:
    """How many live submissions a form has, and when the last one arrived."""
    count, last = db.session.execute(
        select(func.count(Submission.id), func.max(Submission.created_at)).where(
            Submission.form_id == form.id, Submission.deleted_at.is_(None)
        )
    ).one()
    return int(count or 0), last


def review_states(form: Form) -> dict[str, int]:
    """Central's counts of live submissions not yet reviewed, with issues, and edited."""
    received, has_issues, edited = db.session.execute(
        select(
            func.count(Submission.id).filter(Submission.review_state.is_(None)),
            func.count(Submission.id).filter(Submission.review_state == "hasIssues"),
            func.count(Submission.id).filter(Submission.review_state == "edited"),
        ).where(Submission.form_id == form.id, Submission.deleted_at.is_(None))
    ).one()
    return {"received": received or 0, "hasIssues": has_issues or 0, "edited": edited or 0}


def creator(form: Form) -> Actor | None:
    """Who uploaded the form first (None for forms made by the command line)."""
    return db.session.get(Actor, form.created_by) if form.created_by is not None else None


# Internals --------------------------------------------------------------------------------------


def _prepare(upload: Upload, validate_mode: str) -> tuple[xlsform.Converted, xform.XForm]:
    converted = xlsform.convert(upload.body, upload.content_type, fallback_id=upload.fallback_id)
    if converted.warnings and not upload.ignore_warnings:
        raise InvalidForm(
            "The form converted with warnings; fix them, or upload again with "
            "?ignoreWarnings=true to accept them.",
            xlsform.warning_problems(converted.warnings),
            warnings_only=True,
        )
    parsed = xform.read_xform(converted.xml)
    problems = xform.problems_from_fields(parsed.fields)
    if problems:
        raise InvalidForm("The form cannot collect submissions.", problems)
    xlsform.validate(converted.xml, validate_mode)
    return converted, parsed


def _store_def(
    actor: Actor,
    form: Form,
    converted: xlsform.Converted,
    parsed: xform.XForm,
    validate_mode: str,
) -> FormDef:
    fields = form_fields.marked(parsed.fields, converted.sensitive)
    indicators: list[dict[str, Any]] = []
    if converted.workbook is not None:
        indicators = checks.read_indicators(form.project_id, form.xml_form_id, converted, fields)
    xls_blob = None
    if converted.workbook is not None:
        content = xlsform.XLSX if converted.workbook_type == ".xlsx" else xlsform.XLS
        xls_blob = blobs.put(converted.workbook, content)
    definition = FormDef(
        form_id=form.id,
        version=parsed.version,
        name=parsed.title or parsed.form_id,
        xml=converted.xml,
        md5=hashlib.md5(converted.xml, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(converted.xml).hexdigest(),
        xls_blob_id=xls_blob.id if xls_blob else None,
        xls_content_type=xls_blob.content_type if xls_blob else None,
        public_key=parsed.public_key,
        languages=list(parsed.languages),
        indicators=indicators,
        warnings=list(converted.warnings),
        validation=xlsform.validate(converted.xml, validate_mode),
    )
    definition.fields = form_fields.rows(fields)
    definition.attachments = [
        FormAttachment(name=name, type=_media_type(converted.xml, name)) for name in parsed.media
    ]
    db.session.add(definition)
    db.session.flush()
    if converted.itemsets_csv is not None:
        for attachment in definition.attachments:
            if attachment.name == "itemsets.csv":
                attachment.blob_id = blobs.put(converted.itemsets_csv, "text/csv").id
                attachment.updated_at = datetime.now(UTC)
    return definition


def _media_type(xml: bytes, name: str) -> str:
    text = xml.decode("utf-8", "replace")
    for folder, kind in _MEDIA_TYPES.items():
        if f"jr://{folder}/{name}" in text:
            return kind
    return "file"


def _carry_media(source: FormDef | None, target: FormDef) -> None:
    if source is None:
        return
    uploaded = {a.name: a for a in source.attachments if a.blob_id is not None}
    for attachment in target.attachments:
        previous = uploaded.get(attachment.name)
        if attachment.blob_id is None and previous is not None:
            attachment.blob_id = previous.blob_id
            attachment.updated_at = previous.updated_at


def _publish(form: Form, draft: FormDef, new_version: str | None) -> None:
    if new_version is not None:
        if not new_version.strip():
            raise BadRequest("The version must not be empty.")
        draft.xml = _set_version(draft.xml, form.xml_form_id, new_version)
        draft.version = new_version
        draft.md5 = hashlib.md5(draft.xml, usedforsecurity=False).hexdigest()
        draft.sha256 = hashlib.sha256(draft.xml).hexdigest()
    taken = db.session.scalar(
        select(FormDef.id).where(
            FormDef.form_id == form.id,
            FormDef.version == draft.version,
            FormDef.published_at.isnot(None),
        )
    )
    if taken is not None:
        raise VersionTaken(
            f"The form already has a published version '{draft.version}'. Change the version "
            "on the settings sheet, or publish with ?version=<a new version>."
        )
    draft.published_at = datetime.now(UTC)
    form.current_def_id = draft.id
    form.draft_def_id = None


def _set_version(xml: bytes, form_id: str, new_version: str) -> bytes:
    """Rewrite the primary instance's version attribute, leaving every other byte as it was."""
    parsed = xform.read_xform(xml)
    text = xml.decode("utf-8")
    escaped = new_version.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    tag = re.compile(r"<" + re.escape(parsed.root_name) + r"\b[^>]*>")
    for match in tag.finditer(text):
        head = match.group(0)
        if f'id="{form_id}"' not in head and f"id='{form_id}'" not in head:
            continue
        version_attr = re.compile(r"""\bversion=("[^"]*"|'[^']*')""")
        if version_attr.search(head):
            new_head = version_attr.sub(f'version="{escaped}"', head, count=1)
        else:
            close = -2 if head.endswith("/>") else -1
            new_head = head[:close] + f' version="{escaped}"' + head[close:]
        return (text[: match.start()] + new_head + text[match.end() :]).encode("utf-8")
    raise BadRequest("Could not find the form's instance to set its version.")


def safe_name(name: str) -> str:
    """Refuse file names that could escape a folder or confuse a device."""
    if not _SAFE_NAME.match(name) or name in (".", "..") or ".." in name.split("/"):
        raise BadRequest(f"'{name}' is not an acceptable file name.")
    return name
