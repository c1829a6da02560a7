"""The JSON API under /v1, in ODK Central's paths and shapes (the subset collect implements)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import ValidationError

from collect.domain import forms
from collect.domain.forms import draft_tokens
from collect.domain.people import access, app_users, projects, users
from collect.errors import NotFound, TooLarge
from collect.storage import blobs
from collect.storage.models import FormDef
from collect.web import cookies, schemas
from collect.web.auth import bearer_token, current_actor, sign_in_client
from collect.web.responses import base_url, blob_redirect

bp = Blueprint("api", __name__)
Json = tuple[Any, int] | Any
# A sign-in body is an email and a password (at most 1,024 bytes, six as a JSON escape each):
# nothing that needs more is read, let alone parsed.
SIGN_IN_BYTES = 16 * 1024


def _body(schema: type[Any]) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError({"body": ["Send a JSON object with Content-Type: application/json."]})
    loaded: dict[str, Any] = schema().load(data)
    return loaded


def _user_actor() -> Any:
    actor = current_actor()
    access.require_user(actor)
    return actor


def _validate_mode() -> str:
    return str(current_app.config["ODK_VALIDATE"])


def _extended() -> bool:
    return request.headers.get("X-Extended-Metadata", "").lower() == "true"


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() == "true"


# Sessions and users -----------------------------------------------------------------------------


@bp.post("/sessions")
def create_session() -> Json:
    """Sign in with email and password; the answer carries the bearer token."""
    request.max_content_length = SIGN_IN_BYTES
    body = _body(schemas.SessionIn)
    session, token = users.login(
        body["email"],
        body["password"],
        hours=current_app.config["SESSION_HOURS"],
        client=sign_in_client(),
    )
    response = jsonify(
        token=token,
        csrf=session.csrf,
        createdAt=schemas.iso(session.created_at),
        expiresAt=schemas.iso(session.expires_at),
    )
    cookies.remember_device(response, body["email"])
    return response


@bp.delete("/sessions/current")
def delete_current_session() -> Json:
    """Sign out: the session this request was made with ends, as in Central."""
    token = bearer_token() or cookies.token()
    users.end_current(current_actor(), token)
    return _session_ended(token)


@bp.delete("/sessions/<token>")
def delete_session(token: str) -> Json:
    """End a session: one's own, or anyone's for a site admin."""
    users.end_session(current_actor(), token)
    return _session_ended(token)


def _session_ended(token: str | None) -> Response:
    response = jsonify(success=True)
    if token is not None and token == cookies.token():
        cookies.forget(response)  # the browser's own session: its cookie goes too (Central)
    return response


@bp.get("/users/current")
def current_user() -> Json:
    """The signed-in web user."""
    actor = _user_actor()
    assert actor.user is not None
    out = schemas.user_json(actor.user)
    if _extended():
        # Site-wide verbs: an administrator's; a web user's other roles are per project.
        admin = access.ROLE_BY_SYSTEM["admin"].verbs
        out["verbs"] = sorted(admin) if access.is_admin(actor) else []
    return out


@bp.get("/users")
def list_users() -> Json:
    """Every web user (site admins only)."""
    access.require_admin(_user_actor())
    return [schemas.user_json(u) for u in users.all_users()]


@bp.post("/users")
def create_user() -> Json:
    """Create a web user (site admins only)."""
    access.require_admin(_user_actor())
    body = _body(schemas.UserIn)
    user = users.create(body["email"], body["password"], display_name=body["displayName"])
    return schemas.user_json(user)


@bp.get("/roles")
def list_roles() -> Json:
    """The roles that can be given, with Central's ids and system names."""
    _user_actor()
    return [
        # The roles are fixed in code, so they have no creation time to give.
        {
            "id": r.id,
            "name": r.name,
            "system": r.system,
            "verbs": sorted(r.verbs),
            "createdAt": None,
            "updatedAt": None,
        }
        for r in access.ROLES
    ]


# Projects ---------------------------------------------------------------------------------------


@bp.get("/projects")
def list_projects() -> Json:
    """Projects the caller can see."""
    extended = _extended()
    return [schemas.project_json(p, extended=extended) for p in projects.visible(_user_actor())]


@bp.post("/projects")
def create_project() -> Json:
    """Create a project (site admins only)."""
    body = _body(schemas.ProjectIn)
    return schemas.project_json(projects.create(_user_actor(), body["name"], body["description"]))


@bp.get("/projects/<int:pid>")
def get_project(pid: int) -> Json:
    """One project (with X-Extended-Metadata, also what the caller may do in it)."""
    actor = _user_actor()
    out = schemas.project_json(projects.get(actor, pid), extended=_extended())
    if _extended():
        out["verbs"] = sorted(access.project_verbs(actor, pid))
    return out


@bp.patch("/projects/<int:pid>")
def update_project(pid: int) -> Json:
    """Rename, describe, archive, or set the small-cell threshold (minCell)."""
    body = _body(schemas.ProjectPatch)
    project = projects.update(
        _user_actor(),
        pid,
        name=body.get("name"),
        description=body.get("description"),
        archived=body.get("archived"),
        min_cell=body.get("minCell"),
    )
    return schemas.project_json(project)


@bp.get("/projects/<int:pid>/assignments")
def list_assignments(pid: int) -> Json:
    """Who has which role in the project."""
    return [
        {"actorId": a.actor_id, "roleId": a.role_id}
        for a in projects.assignments(_user_actor(), pid)
    ]


@bp.post("/projects/<int:pid>/assignments/<role>/<int:actor_id>")
def assign(pid: int, role: str, actor_id: int) -> Json:
    """Give a web user a role (manager, viewer, or its id) in the project."""
    projects.assign(_user_actor(), pid, role, actor_id)
    return {"success": True}


@bp.delete("/projects/<int:pid>/assignments/<role>/<int:actor_id>")
def unassign(pid: int, role: str, actor_id: int) -> Json:
    """Take a role away."""
    projects.unassign(_user_actor(), pid, role, actor_id)
    return {"success": True}


# App users --------------------------------------------------------------------------------------


@bp.get("/projects/<int:pid>/app-users")
def list_app_users(pid: int) -> Json:
    """The project's app users, with their tokens."""
    return [schemas.app_user_json(a) for a in app_users.listed(_user_actor(), pid)]


@bp.post("/projects/<int:pid>/app-users")
def create_app_user(pid: int) -> Json:
    """Create an app user (a device identity)."""
    body = _body(schemas.AppUserIn)
    return schemas.app_user_json(app_users.create(_user_actor(), pid, body["displayName"]))


@bp.delete("/projects/<int:pid>/app-users/<int:actor_id>")
def delete_app_user(pid: int, actor_id: int) -> Json:
    """Revoke an app user: its token stops working at once."""
    app_users.revoke(_user_actor(), pid, actor_id)
    return {"success": True}


@bp.get("/projects/<int:pid>/app-users/<int:actor_id>/qr")
def app_user_qr(pid: int, actor_id: int) -> Response:
    """The ODK Collect settings QR code of an app user (?format=svg for SVG, PNG otherwise)."""
    actor = _user_actor()
    app_user = app_users.get(actor, pid, actor_id)
    project = projects.get(actor, pid)
    payload = app_users.qr_payload(app_users.settings(base_url(), app_user, project.name))
    kind = "svg" if request.args.get("format") == "svg" else "png"
    mimetype = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(app_users.qr_image(payload, kind), mimetype=mimetype)


@bp.post("/projects/<int:pid>/forms/<xml_form_id>/assignments/<role>/<int:actor_id>")
def assign_form(pid: int, xml_form_id: str, role: str, actor_id: int) -> Json:
    """Let an app user download and submit to a form."""
    app_users.assign_form(_user_actor(), pid, xml_form_id, role, actor_id)
    return {"success": True}


@bp.delete("/projects/<int:pid>/forms/<xml_form_id>/assignments/<role>/<int:actor_id>")
def unassign_form(pid: int, xml_form_id: str, role: str, actor_id: int) -> Json:
    """Take a form away from an app user."""
    app_users.unassign_form(_user_actor(), pid, xml_form_id, actor_id)
    return {"success": True}


# Forms ------------------------------------------------------------------------------------------


def _upload() -> forms.Upload:
    limit = int(current_app.config["MAX_FORM_BYTES"])
    if (request.content_length or 0) > limit:
        raise TooLarge(f"A form file may be at most {limit // 1_000_000} MB.")
    return forms.Upload(
        body=request.get_data(cache=False),
        content_type=request.headers.get("Content-Type", ""),
        ignore_warnings=_flag("ignoreWarnings"),
        # pyodk percent-encodes the id it falls back on (its file name or a uuid); Central decodes.
        fallback_id=unquote(request.headers.get("X-XlsForm-FormId-Fallback", "")) or None,
    )


@bp.get("/projects/<int:pid>/forms")
def list_forms(pid: int) -> Json:
    """The project's forms (with counts when X-Extended-Metadata: true)."""
    extended = _extended()
    return [schemas.form_json(f, extended=extended) for f in forms.listed(_user_actor(), pid)]


@bp.post("/projects/<int:pid>/forms")
def create_form(pid: int) -> Json:
    """Upload a new form (XLSX, XLS or XForm XML); ?publish=true publishes it at once."""
    form = forms.create(
        _user_actor(), pid, _upload(), publish=_flag("publish"), validate_mode=_validate_mode()
    )
    return schemas.form_json(form)


@bp.get("/projects/<int:pid>/forms/<xml_form_id>")
def get_form(pid: int, xml_form_id: str) -> Json:
    """One form."""
    return schemas.form_json(forms.get(_user_actor(), pid, xml_form_id), extended=_extended())


@bp.patch("/projects/<int:pid>/forms/<xml_form_id>")
def update_form(pid: int, xml_form_id: str) -> Json:
    """Set a form's state: open, closing (no new downloads) or closed (no submissions)."""
    body = _body(schemas.FormPatch)
    return schemas.form_json(forms.set_state(_user_actor(), pid, xml_form_id, body["state"]))


@bp.get("/projects/<int:pid>/forms/<xml_form_id>.xml")
def form_xml(pid: int, xml_form_id: str) -> Response:
    """The published XForm, byte for byte what ODK Collect downloads."""
    definition = forms.definition(_user_actor(), pid, xml_form_id)
    return Response(definition.xml, mimetype="application/xml")


@bp.get("/projects/<int:pid>/forms/<xml_form_id>.xlsx")
@bp.get("/projects/<int:pid>/forms/<xml_form_id>.xls")
def form_workbook(pid: int, xml_form_id: str) -> Response:
    """The uploaded workbook of the published version, byte for byte."""
    definition = forms.definition(_user_actor(), pid, xml_form_id)
    return _workbook(xml_form_id, definition)


@bp.get("/projects/<int:pid>/forms/<xml_form_id>/draft.xml")
def draft_xml(pid: int, xml_form_id: str) -> Response:
    """The draft's XForm."""
    definition = forms.definition(_user_actor(), pid, xml_form_id, draft=True)
    return Response(definition.xml, mimetype="application/xml")


@bp.get("/projects/<int:pid>/forms/<xml_form_id>/draft.xlsx")
def draft_workbook(pid: int, xml_form_id: str) -> Response:
    """The draft's uploaded workbook."""
    definition = forms.definition(_user_actor(), pid, xml_form_id, draft=True)
    return _workbook(xml_form_id, definition)


def _workbook(xml_form_id: str, definition: FormDef) -> Response:
    blob = forms.workbook_blob(definition)
    if blob is None:
        raise NotFound("This version was uploaded as XForm XML: there is no workbook.")
    suffix = ".xlsx" if "openxml" in blob.content_type else ".xls"
    return Response(
        blobs.stream(blob),
        mimetype=blob.content_type,
        headers={"Content-Disposition": f'attachment; filename="{xml_form_id}{suffix}"'},
    )


@bp.get("/projects/<int:pid>/forms/<xml_form_id>/draft")
def get_draft(pid: int, xml_form_id: str) -> Json:
    """The draft version."""
    actor = _user_actor()
    form = forms.get(actor, pid, xml_form_id)
    draft = forms.definition(actor, pid, xml_form_id, draft=True)
    token = draft_tokens.token(current_app.config["SECRET_KEY"], draft)
    return schemas.form_def_json(form, draft, draft_token=token)


@bp.post("/projects/<int:pid>/forms/<xml_form_id>/draft")
def create_draft(pid: int, xml_form_id: str) -> Json:
    """Start a new draft from a new file (or from the published version with an empty body)."""
    upload = _upload()
    forms.new_draft(
        _user_actor(),
        pid,
        xml_form_id,
        upload if upload.body else None,
        validate_mode=_validate_mode(),
    )
    return {"success": True}


@bp.post("/projects/<int:pid>/forms/<xml_form_id>/draft/attachments/<name>")
def upload_draft_attachment(pid: int, xml_form_id: str, name: str) -> Json:
    """Upload a media file the draft expects; the answer is the attachment, as Central's."""
    attachment = forms.attach(
        _user_actor(),
        pid,
        xml_form_id,
        forms.safe_name(name),
        request.get_data(cache=False),
        request.headers.get("Content-Type", "application/octet-stream"),
    )
    return schemas.attachment_json(attachment)


@bp.get("/projects/<int:pid>/forms/<xml_form_id>/draft/attachments")
def draft_attachments(pid: int, xml_form_id: str) -> Json:
    """The media files the draft expects, and whether each was uploaded."""
    definition = forms.definition(_user_actor(), pid, xml_form_id, draft=True)
    return [schemas.attachment_json(a) for a in definition.attachments]


@bp.post("/projects/<int:pid>/forms/<xml_form_id>/draft/publish")
def publish_draft(pid: int, xml_form_id: str) -> Json:
    """Publish the draft (?version= sets a new version string)."""
    forms.publish(_user_actor(), pid, xml_form_id, request.args.get("version"))
    return {"success": True}


@bp.get("/projects/<int:pid>/forms/<xml_form_id>/versions")
def list_versions(pid: int, xml_form_id: str) -> Json:
    """Published versions, newest first."""
    actor = _user_actor()
    form = forms.get(actor, pid, xml_form_id)
    return [schemas.form_def_json(form, d) for d in forms.versions(actor, pid, xml_form_id)]


@bp.get("/projects/<int:pid>/forms/<xml_form_id>/versions/<version>.xml")
def version_xml(pid: int, xml_form_id: str, version: str) -> Response:
    """One published version's XForm."""
    return Response(
        forms.version(_user_actor(), pid, xml_form_id, version).xml, mimetype="application/xml"
    )


@bp.get("/projects/<int:pid>/forms/<xml_form_id>/attachments")
def list_attachments(pid: int, xml_form_id: str) -> Json:
    """The published version's media files."""
    definition = forms.definition(_user_actor(), pid, xml_form_id)
    return [schemas.attachment_json(a) for a in definition.attachments]


@bp.get("/projects/<int:pid>/forms/<xml_form_id>/attachments/<name>")
def get_attachment(pid: int, xml_form_id: str, name: str) -> Response:
    """One media file of the published version."""
    return _media(forms.definition(_user_actor(), pid, xml_form_id), name)


@bp.get("/projects/<int:pid>/forms/<xml_form_id>/draft/attachments/<name>")
def draft_attachment(pid: int, xml_form_id: str, name: str) -> Response:
    """One media file of the draft (the draft's preview shows it)."""
    return _media(forms.definition(_user_actor(), pid, xml_form_id, draft=True), name)


def _media(definition: FormDef, name: str) -> Response:
    attachment = next((a for a in definition.attachments if a.name == name), None)
    if attachment is None or attachment.blob is None:
        raise NotFound(f"The form has no uploaded file named '{name}'.")
    if moved := blob_redirect(attachment.blob, name):
        return moved
    response = Response(blobs.open(attachment.blob), mimetype=attachment.blob.content_type)
    # Uploaded by a manager, read by a form: never run as a page of this site.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
