"""App users: the identities ODK Collect devices use, their form access and settings QR codes."""

from __future__ import annotations

import base64
import io
import json
import secrets
import zlib
from datetime import UTC, datetime
from typing import Any, Protocol

import segno
from sqlalchemy import select

from collect.domain import forms
from collect.domain.people import access, audits
from collect.errors import BadRequest, Conflict, NotFound
from collect.storage.db import db
from collect.storage.models import Actor, AppUser, Form, FormAssignment

APP_USER_ROLE = access.ROLE_BY_SYSTEM["app-user"]


def create(actor: Actor, project_id: int, display_name: str) -> AppUser:
    """Create an app user with a long random token (the device's key)."""
    access.require(actor, "app_user.manage", project_id)
    if not display_name.strip():
        raise BadRequest("An app user needs a display name, such as the enumerator's name.")
    app_user = AppUser(
        actor=Actor(type="field_key", display_name=display_name.strip()),
        project_id=project_id,
        token=secrets.token_urlsafe(48),
    )
    db.session.add(app_user)
    db.session.flush()
    audits.log(actor, "field_key.create", f"project:{project_id}", appUser=app_user.actor_id)
    db.session.commit()
    return app_user


def listed(actor: Actor, project_id: int) -> list[AppUser]:
    """The project's app users that are not deleted, oldest first."""
    access.require(actor, "app_user.manage", project_id)
    return list(
        db.session.scalars(
            select(AppUser)
            .join(AppUser.actor)
            .where(AppUser.project_id == project_id, Actor.deleted_at.is_(None))
            .order_by(AppUser.actor_id)
        )
    )


def get(actor: Actor, project_id: int, app_user_id: int) -> AppUser:
    access.require(actor, "app_user.manage", project_id)
    app_user = db.session.get(AppUser, app_user_id)
    if app_user is None or app_user.project_id != project_id or app_user.actor.deleted_at:
        raise NotFound(f"There is no app user {app_user_id} in this project.")
    return app_user


def revoke(actor: Actor, project_id: int, app_user_id: int) -> None:
    """Delete an app user: its token stops working on the next request."""
    app_user = get(actor, project_id, app_user_id)
    app_user.token = None
    app_user.actor.deleted_at = datetime.now(UTC)
    audits.log(actor, "field_key.delete", f"project:{project_id}", appUser=app_user_id)
    db.session.commit()


def assign_form(
    actor: Actor, project_id: int, xml_form_id: str, role_ref: str, actor_id: int
) -> None:
    """Let an app user see and submit to one form."""
    access.require(actor, "app_user.manage", project_id)
    if access.role(role_ref) != APP_USER_ROLE:
        raise BadRequest("Only the app-user role (id 2) can be given on a form.")
    form = forms.find(project_id, xml_form_id)
    app_user = get(actor, project_id, actor_id)
    exists = db.session.scalar(
        select(FormAssignment).where(
            FormAssignment.form_id == form.id, FormAssignment.actor_id == app_user.actor_id
        )
    )
    if exists is not None:
        raise Conflict("That app user is already assigned to this form.")
    db.session.add(
        FormAssignment(form_id=form.id, actor_id=app_user.actor_id, role_id=APP_USER_ROLE.id)
    )
    audits.log(actor, "form.assignment.create", f"form:{form.id}", appUser=app_user.actor_id)
    db.session.commit()


def unassign_form(actor: Actor, project_id: int, xml_form_id: str, actor_id: int) -> None:
    access.require(actor, "app_user.manage", project_id)
    assignment = db.session.scalar(
        select(FormAssignment)
        .join(Form, Form.id == FormAssignment.form_id)
        .where(
            Form.project_id == project_id,
            Form.xml_form_id == xml_form_id,
            FormAssignment.actor_id == actor_id,
        )
    )
    if assignment is None:
        raise NotFound("That app user is not assigned to this form.")
    db.session.delete(assignment)
    db.session.commit()


class Addressed(Protocol):
    """What a device's server URL is made of: an app user, or the device view of one."""

    @property
    def token(self) -> str | None: ...

    @property
    def project_id(self) -> int: ...


def server_url(base_url: str, app_user: Addressed) -> str:
    """The URL ODK Collect is configured with: the token and project are in the path."""
    return f"{base_url.rstrip('/')}/v1/key/{app_user.token}/projects/{app_user.project_id}"


def settings(base_url: str, app_user: AppUser, project_name: str) -> dict[str, Any]:
    """ODK Collect's settings for this app user; `general` and `admin` must both be present."""
    return {
        "general": {
            "server_url": server_url(base_url, app_user),
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": project_name, "icon": project_name[:1].upper() or "C"},
    }


def qr_payload(settings_json: dict[str, Any]) -> str:
    """Collect's QR payload: base64 of the zlib-deflated JSON (Collect inflates with zlib)."""
    raw = json.dumps(settings_json, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def qr_image(payload: str, kind: str = "png", scale: int = 8) -> bytes:
    """Render a QR code (error correction L, as Collect's own codes) as PNG or SVG bytes."""
    code = segno.make_qr(payload, error="l")
    out = io.BytesIO()
    if kind == "svg":
        code.save(out, kind="svg", scale=scale, border=4, title="ODK Collect settings QR code")
    else:
        code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_terminal(payload: str) -> str:
    """The QR code drawn with block characters, for `collect demo`."""
    code = segno.make_qr(payload, error="l")
    out = io.StringIO()
    code.terminal(out=out, compact=True, border=2)
    return out.getvalue()
