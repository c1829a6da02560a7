"""What a device (an app user's phone) may see: its identity, its form list, forms and media.

403 and never 401 for an unusable token, as Central does: ODK Collect answers a 401 by asking
for a username and password, which an app user does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, select

from collect.domain.submissions import statements
from collect.errors import Forbidden, FormClosed, NotFound
from collect.storage.db import db
from collect.storage.models import (
    Blob,
    Form,
    FormAssignment,
    FormAttachment,
    FormDef,
)


@dataclass(frozen=True)
class Device:
    """The app user a device request comes from: all of it that the OpenRosa views need."""

    actor_id: int
    project_id: int
    token: str


def device(token: str, project_id: int) -> Device:
    """The live app user behind a URL's token, if it belongs to this project; 403 otherwise.

    403 and not 401, as Central does: ODK Collect answers a 401 by asking for a username and
    password, which an app user does not have.
    """
    # Plain columns rather than an ORM object: this runs before every request of every phone.
    row = db.session.connection().execute(statements.DEVICE, {"token": token}).first()
    return checked(None if row is None else (row[0], row[1]), token, project_id)


def checked(found: tuple[int, int] | None, token: str, project_id: int) -> Device:
    """The sender of a request, from its app user's (actor id, project id) if found."""
    if found is None:
        raise Forbidden(
            "This phone's access to the server was revoked or is not valid. Ask your "
            "coordinator for a new QR code and scan it in Collect (Project settings)."
        )
    actor_id, own_project_id = found
    if own_project_id != project_id:
        raise Forbidden(
            "This phone is set up for another project. Ask your coordinator for the QR code "
            "of this project."
        )
    return Device(actor_id, project_id, token)


@dataclass(frozen=True)
class Offered:
    """A form as the device's form list shows it."""

    xml_form_id: str
    name: str
    version: str
    md5: str
    has_media: bool


def offered(app_user: Device, xml_form_id: str | None = None) -> list[Offered]:
    """Published, open forms assigned to the app user (only `xml_form_id` when given)."""
    has_media = exists().where(FormAttachment.form_def_id == FormDef.id)
    stmt = (
        select(Form.xml_form_id, FormDef.name, FormDef.version, FormDef.md5, has_media)
        .join(FormDef, FormDef.id == Form.current_def_id)
        .join(
            FormAssignment,
            and_(FormAssignment.form_id == Form.id, FormAssignment.actor_id == app_user.actor_id),
        )
        .where(
            Form.project_id == app_user.project_id,
            Form.deleted_at.is_(None),
            Form.state == "open",
        )
        .order_by(Form.xml_form_id)
    )
    if xml_form_id is not None:
        stmt = stmt.where(Form.xml_form_id == xml_form_id)
    return [
        Offered(form_id, name or form_id, version, md5, bool(media))
        for form_id, name, version, md5, media in db.session.execute(stmt)
    ]


def offered_definition(app_user: Device, xml_form_id: str) -> FormDef:
    """The published version of an open form assigned to the app user, for download."""
    form = _device_form(app_user, xml_form_id)
    if form.state != "open":
        raise FormClosed(
            f"The form '{xml_form_id}' is closed on the server and can no longer be downloaded."
        )
    if form.current_def is None:
        raise NotFound(f"The form '{xml_form_id}' is not published yet.")
    return form.current_def


def media_files(definition: FormDef) -> list[tuple[str, str]]:
    """(name, MD5) of the media files of a version that were uploaded, by name."""
    return [
        (name, md5)
        for name, md5 in db.session.execute(
            select(FormAttachment.name, Blob.md5)
            .join(Blob, Blob.id == FormAttachment.blob_id)
            .where(FormAttachment.form_def_id == definition.id)
            .order_by(FormAttachment.name)
        )
    ]


def media(app_user: Device, xml_form_id: str, name: str) -> Blob:
    """A media file of a form the app user may download."""
    definition = offered_definition(app_user, xml_form_id)
    attachment = next((a for a in definition.attachments if a.name == name), None)
    if attachment is None or attachment.blob is None:
        raise NotFound(f"The form '{xml_form_id}' has no file named '{name}' on the server.")
    return attachment.blob


def _device_form(app_user: Device, xml_form_id: str) -> Form:
    row = db.session.execute(
        select(Form, FormAssignment.id)
        .outerjoin(
            FormAssignment,
            and_(FormAssignment.form_id == Form.id, FormAssignment.actor_id == app_user.actor_id),
        )
        .where(
            Form.project_id == app_user.project_id,
            Form.xml_form_id == xml_form_id,
            Form.deleted_at.is_(None),
        )
    ).first()
    if row is None:
        raise NotFound(f"There is no form '{xml_form_id}' on the server for this project.")
    form, assignment = row
    if assignment is None:
        raise Forbidden(
            f"The form '{xml_form_id}' is not assigned to this phone. Ask your coordinator "
            "to give you access to it."
        )
    return form
