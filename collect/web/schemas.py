"""marshmallow schemas for the JSON API: `load` for request bodies, `dump` in Central's shapes."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from collect.domain import forms
from collect.domain.people import projects
from collect.storage.models import AppUser, Form, FormAttachment, FormDef, User


class SessionIn(Schema):
    email = fields.String(required=True)
    password = fields.String(required=True)


class UserIn(Schema):
    email = fields.Email(required=True)
    password = fields.String(load_default=None)
    displayName = fields.String(load_default=None)


class ProjectIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default=None, allow_none=True)
    # Central sends these too; accepted and ignored where they have no meaning here.
    keyId = fields.Raw(load_default=None)
    archived = fields.Boolean(load_default=None, allow_none=True)


class ProjectPatch(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True)
    archived = fields.Boolean(allow_none=True)
    minCell = fields.Integer(validate=validate.Range(min=0, max=1000))


class AppUserIn(Schema):
    displayName = fields.String(required=True, validate=validate.Length(min=1, max=200))


class FormPatch(Schema):
    state = fields.String(required=True, validate=validate.OneOf(forms.STATES))


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    text: str = value.isoformat()
    return (
        text.replace("+00:00", "Z")
        if text.endswith("+00:00")
        else text + ("" if value.tzinfo else "Z")
    )


def actor_json(actor: Any) -> dict[str, Any]:
    return {
        "id": actor.id,
        "type": actor.type,
        "displayName": actor.display_name,
        "createdAt": _iso(actor.created_at),
        "updatedAt": _iso(actor.updated_at),
        "deletedAt": _iso(actor.deleted_at),
    }


def user_json(user: User) -> dict[str, Any]:
    return {**actor_json(user.actor), "email": user.email}


def app_user_json(app_user: AppUser) -> dict[str, Any]:
    return {
        **actor_json(app_user.actor),
        "token": app_user.token,
        "projectId": app_user.project_id,
    }


def project_json(project: Any, *, extended: bool = False) -> dict[str, Any]:
    out = {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "archived": project.archived,
        "keyId": None,
        "minCell": project.min_cell,
        "createdAt": _iso(project.created_at),
        "updatedAt": _iso(project.updated_at),
        "deletedAt": _iso(project.deleted_at),
    }
    if extended:
        counts = projects.stats(project)
        # Entity lists (datasets) are issue 14; until then a project has none.
        out.update(counts, lastSubmission=_iso(counts["lastSubmission"]), datasets=0)
    return out


def _def_json(definition: FormDef | None) -> dict[str, Any]:
    if definition is None:
        return {"name": None, "version": None, "hash": None, "sha256": None, "keyId": None}
    return {
        "name": definition.name,
        "version": definition.version,
        "hash": definition.md5,
        "sha256": definition.sha256,
        "keyId": 1 if definition.public_key else None,
        "publishedAt": _iso(definition.published_at),
        "validation": definition.validation,
        "warnings": list(definition.warnings),
        "excelContentType": definition.xls_content_type,
    }


def form_json(form: Form, *, extended: bool = False) -> dict[str, Any]:
    """A form in Central's shape; the published version's details, else the draft's."""
    shown = form.current_def or form.draft_def
    out: dict[str, Any] = {
        "projectId": form.project_id,
        "xmlFormId": form.xml_form_id,
        "state": form.state,
        "enketoId": None,
        "enketoOnceId": None,
        "publishedAt": None,
        "createdAt": _iso(form.created_at),
        "updatedAt": _iso(form.updated_at),
        "webformsEnabled": False,
        "entityRelated": False,
        **_def_json(shown),
    }
    out["publishedAt"] = _iso(form.current_def.published_at) if form.current_def else None
    out["draftToken"] = None
    if extended:
        count, last = forms.submission_stats(form)
        creator = forms.creator(form)
        out["submissions"] = count
        out["reviewStates"] = forms.review_states(form)
        out["lastSubmission"] = _iso(last)
        out["createdBy"] = actor_json(creator) if creator is not None else None
        out["publicLinks"] = 0  # public links are not implemented
        out["publishNotes"] = None
    return out


def form_def_json(
    form: Form, definition: FormDef, *, draft_token: str | None = None
) -> dict[str, Any]:
    """One version of a form (a published one, or the draft with its token)."""
    return {
        "projectId": form.project_id,
        "xmlFormId": form.xml_form_id,
        "state": form.state,
        "enketoId": None,
        "createdAt": _iso(definition.created_at),
        "updatedAt": None,
        "webformsEnabled": False,
        **_def_json(definition),
        "draftToken": draft_token,
    }


def attachment_json(attachment: FormAttachment) -> dict[str, Any]:
    """A media file a version expects; `hash` and `size` are the uploaded file's (pyodk reads
    `hash`)."""
    blob = attachment.blob
    out: dict[str, Any] = {
        "name": attachment.name,
        "type": attachment.type,
        "hash": blob.md5 if blob is not None else None,
        "exists": blob is not None,
        "blobExists": blob is not None,
        "datasetExists": False,
        "updatedAt": _iso(attachment.updated_at),
    }
    if blob is not None:
        out["size"] = blob.size
    return out


iso = _iso
