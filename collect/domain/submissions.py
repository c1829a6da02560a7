"""Submissions: what a device may download, receiving filled forms exactly once, reading them.

ODK Collect retries a POST whenever it did not see the answer, and splits a submission with many
or large files into several POSTs that repeat the same XML. So a submission is keyed by its form
and `meta/instanceID`: the same instanceID with byte-identical XML only adds the files that had
not arrived yet, and the same instanceID with other XML is refused. The database's unique
constraints decide between two workers receiving the same instance at once, never a lock held in
one process. The bytes of every file are durable (blobs.put) before the row that points to them
is committed, and the device hears 201 only after that commit.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import Select, and_, bindparam, exists, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, defer

from collect.domain import access, audits, forms, xform
from collect.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidSubmission,
    NotFound,
)
from collect.storage import blobs
from collect.storage.db import db
from collect.storage.models import (
    Actor,
    AppUser,
    Blob,
    Comment,
    Form,
    FormAssignment,
    FormAttachment,
    FormDef,
    FormField,
    Project,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
)

REVIEW_STATES = ("hasIssues", "edited", "approved", "rejected")
# Column widths of the models; device-provided text longer than this is cut, ids are refused.
_ID_MAX = 300
_DEVICE_ID_MAX = 300
_USER_AGENT_MAX = 500
_INSTANCE_NAME_MAX = 500


class FormClosed(Conflict):
    """The form no longer accepts submissions, or is no longer offered for download."""

    code = 409.2


class StaleEdit(Conflict):
    """An edit of a version that is no longer the current one."""

    code = 409.9


class Deleted(Conflict):
    """The submission was deleted on the server; sending it again does not bring it back."""

    code = 409.18


# What a device may see --------------------------------------------------------------------------


# The lookups of every device request, built once: bound values keep them out of the
# statement, so SQLAlchemy neither rebuilds nor re-hashes them per request.
_LIVE_APP_USER = and_(
    AppUser.token == bindparam("token"),
    Actor.deleted_at.is_(None),
    Project.deleted_at.is_(None),
)
_DEVICE = (
    select(AppUser.actor_id, AppUser.project_id)
    .join(Actor, Actor.id == AppUser.actor_id)
    .join(Project, Project.id == AppUser.project_id)
    .where(_LIVE_APP_USER)
)
# A submission's sender and the form version it is for, in one round trip to the database.
_SENDER = (
    select(
        AppUser.actor_id,
        AppUser.project_id,
        Form.id,
        Form.state,
        FormAssignment.id,
        FormDef.id,
        FormDef.sha256,
    )
    .select_from(AppUser)
    .join(Actor, Actor.id == AppUser.actor_id)
    .join(Project, Project.id == AppUser.project_id)
    .outerjoin(
        Form,
        and_(
            Form.project_id == AppUser.project_id,
            Form.xml_form_id == bindparam("form"),
            Form.deleted_at.is_(None),
        ),
    )
    .outerjoin(
        FormAssignment,
        and_(FormAssignment.form_id == Form.id, FormAssignment.actor_id == AppUser.actor_id),
    )
    .outerjoin(
        FormDef,
        and_(
            FormDef.form_id == Form.id,
            FormDef.version == bindparam("version"),
            FormDef.published_at.isnot(None),
        ),
    )
    .where(_LIVE_APP_USER)
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
    row = db.session.connection().execute(_DEVICE, {"token": token}).first()
    return _checked_device(None if row is None else (row[0], row[1]), token, project_id)


def _checked_device(found: tuple[int, int] | None, token: str, project_id: int) -> Device:
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


# Receiving --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    """A media part of a submission POST: the file's name, its declared type and its bytes."""

    name: str
    content_type: str
    read: Callable[[], bytes]


@dataclass(frozen=True)
class Received:
    """What became of a POST: the version it stored or added to, and the files still missing."""

    instance_id: str
    missing: tuple[str, ...]  # files the XML refers to that have not arrived yet

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class _Incoming:
    xml: bytes
    sha256: str
    meta: xform.SubmissionMeta
    data: xform.Values
    expected: tuple[str, ...]  # attachment names the XML refers to, in document order


@dataclass(frozen=True)
class _Target:
    form_id: int
    def_id: int
    def_sha256: str


class _Retry(Exception):
    """The optimistic write lost a race or met a stored instance: re-read and decide again."""


def receive(
    token: str,
    project_id: int,
    xml: bytes,
    files: Sequence[File],
    *,
    device_id: str | None,
    user_agent: str | None,
) -> Received:
    """Store a submission (or a new version of one) sent by a device, exactly once.

    `token` and `project_id` are the device's URL: the sender is checked in the same query that
    finds the form the XML names.
    """
    try:
        root, meta = _parse(xml)
    except InvalidSubmission:
        device(token, project_id)  # a phone that may not send at all hears that first
        raise
    at_once = meta.deprecated_id is None and db.session.get_bind().dialect.name == "postgresql"
    if at_once and not db.session().in_transaction():
        # A lookup and one write, each atomic on its own: on PostgreSQL, BEGIN and COMMIT would
        # be two more round trips between processes (a failed write rolls itself back).
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    sender, target = _sender_and_target(token, project_id, meta)
    origin = _Origin(
        sender.actor_id, _cut(device_id, _DEVICE_ID_MAX), _cut(user_agent, _USER_AGENT_MAX)
    )
    return _store(target, root, meta, xml, files, origin, at_once=at_once)


def create(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    xml: bytes,
    *,
    device_id: str | None,
    user_agent: str | None,
) -> Summary:
    """A new submission from the API (`POST .../submissions`, as pyodk sends it), no files yet.

    Unlike a device's POST, which may be a retry, an instanceID already stored is a 409, as in
    ODK Central; the files follow one by one with `add_file`.
    """
    form = _form(actor, project_id, xml_form_id, "submission.create")
    root, meta = _parse(xml)
    _check_form_id(meta, xml_form_id)
    if meta.deprecated_id is not None:
        raise BadRequest(
            "This XML has a deprecatedID, so it is an edit: send it with PUT to the address of "
            "the submission it edits."
        )
    if _def_by_instance(form.id, meta.instance_id) is not None:
        raise AlreadyExists(
            f"A submission with the instanceID '{meta.instance_id}' already exists. Give the "
            "new submission its own instanceID, or edit the existing one with PUT."
        )
    origin = _Origin(actor.id, _cut(device_id, _DEVICE_ID_MAX), _cut(user_agent, _USER_AGENT_MAX))
    _store(_form_target(form, meta), root, meta, xml, [], origin, at_once=False)
    audits.log(actor, "submission.create", f"form:{form.id}", instanceId=meta.instance_id)
    db.session.commit()
    return _summary(_submission(form, meta.instance_id))


def edit(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    instance_id: str,
    xml: bytes,
    *,
    user_agent: str | None,
) -> Summary:
    """A new version of a submission from the API (`PUT .../submissions/{instanceId}`).

    The XML's deprecatedID must be the instanceID of the version it replaces (the current one),
    as ODK Collect and Central require; files the edit still refers to carry over.
    """
    form = _form(actor, project_id, xml_form_id, "submission.update")
    submission = _submission(form, instance_id)
    root, meta = _parse(xml)
    _check_form_id(meta, xml_form_id)
    current = _current(submission)
    if meta.deprecated_id != current.instance_id:
        raise Conflict(
            f"An edit must name the version it replaces: the XML's meta/deprecatedID must be "
            f"'{current.instance_id}', the instanceID of the current version, and its "
            "meta/instanceID a new one."
        )
    origin = _Origin(actor.id, None, _cut(user_agent, _USER_AGENT_MAX))
    _store(_form_target(form, meta), root, meta, xml, [], origin, at_once=False)
    audits.log(
        actor,
        "submission.update.version",
        f"form:{form.id}",
        instanceId=instance_id,
        newInstanceId=meta.instance_id,
    )
    db.session.commit()
    return _summary(_submission(form, instance_id))


def add_file(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    instance_id: str,
    name: str,
    data: bytes,
    content_type: str,
) -> None:
    """Store a file the current version refers to (replacing one sent before, as Central does)."""
    form = _form(actor, project_id, xml_form_id, "submission.update")
    current = _current(_submission(form, instance_id))
    attachment = next((a for a in current.attachments if a.name == name), None)
    if attachment is None:
        raise NotFound(
            f"The submission does not refer to a file named '{name}'. Its files are: "
            + (", ".join(a.name for a in current.attachments) or "none")
            + "."
        )
    attachment.blob_id = _put(File(name, content_type, lambda: data))
    current.attachments_present = sum(1 for a in current.attachments if a.blob_id is not None)
    audits.log(
        actor, "submission.attachment.update", f"form:{form.id}", instanceId=instance_id, name=name
    )
    db.session.commit()


def _parse(xml: bytes) -> tuple[etree._Element, xform.SubmissionMeta]:
    root = xform.parse_xml(xml, what="submission", bare_ampersands=True)
    meta = xform.submission_meta(root)
    if len(meta.instance_id) > _ID_MAX or len(meta.deprecated_id or "") > _ID_MAX:
        raise InvalidSubmission(f"The submission's instanceID is longer than {_ID_MAX} characters.")
    return root, meta


def _check_form_id(meta: xform.SubmissionMeta, xml_form_id: str) -> None:
    if meta.form_id != xml_form_id:
        raise BadRequest(
            f"The XML is a submission to the form '{meta.form_id}' (the id attribute of its "
            f"root element), but it was sent to the form '{xml_form_id}'."
        )


def _form_target(form: Form, meta: xform.SubmissionMeta) -> _Target:
    """The published version of `form` a submission from the API names."""
    if form.state == "closed":
        raise FormClosed(f"The form '{form.xml_form_id}' is closed and accepts no submissions.")
    found = db.session.execute(
        select(FormDef.id, FormDef.sha256).where(
            FormDef.form_id == form.id,
            FormDef.version == meta.version,
            FormDef.published_at.isnot(None),
        )
    ).first()
    if found is None:
        raise BadRequest(
            f"The form '{form.xml_form_id}' has no published version '{meta.version}' (the "
            "version attribute of the XML's root element)."
        )
    return _Target(form.id, found[0], found[1])


def _store(
    target: _Target,
    root: etree._Element,
    meta: xform.SubmissionMeta,
    xml: bytes,
    files: Sequence[File],
    origin: _Origin,
    *,
    at_once: bool,
) -> Received:
    fields = _fields(target.def_id, target.def_sha256)
    data = {} if meta.encrypted else xform.submission_values(root, fields)
    expected = meta.media_files if meta.encrypted else tuple(xform.binary_names(data, fields))
    for name in (*expected, *(f.name for f in files)):
        _check_name(name)
    # Read each file once: a lost race re-reads the stored rows and may need the bytes again.
    sent = {
        f.name: File(f.name, f.content_type, functools.cache(f.read))
        for f in files
        if f.name in expected
    }
    incoming = _Incoming(xml, hashlib.sha256(xml).hexdigest(), meta, data, expected)
    # Most POSTs are new: try to write at once, and fall back to reading what is stored when
    # a unique constraint (or the current flag of an edited version) says it is not new.
    try:
        if at_once:
            return _create_at_once(target, incoming, sent, origin)
        return _create(target, incoming, sent, origin)
    except (IntegrityError, _Retry) as e:
        db.session.rollback()
        stored = _def_by_instance(target.form_id, meta.instance_id)
        if stored is not None:
            return _top_up(stored, incoming, sent)
        if isinstance(e, IntegrityError):
            raise
        raise StaleEdit(
            "The copy of this form you edited is out of date: the server has a newer edit "
            "of it. Download the newer version and make your changes again."
        ) from None


@dataclass(frozen=True)
class _Origin:
    """Who sent a submission, from which device and app (cut to the columns' widths)."""

    actor_id: int
    device_id: str | None
    user_agent: str | None


def _sender_and_target(
    token: str, project_id: int, meta: xform.SubmissionMeta
) -> tuple[Device, _Target]:
    """The app user sending, and the form and published version the submission belongs to."""
    params = {"token": token, "form": meta.form_id, "version": meta.version}
    row = db.session.connection().execute(_SENDER, params).first()
    sender = _checked_device(None if row is None else (row[0], row[1]), token, project_id)
    assert row is not None
    _, _, form_id, state, assignment_id, def_id, def_sha256 = row
    if form_id is None:
        raise NotFound(
            f"There is no form '{meta.form_id}' on the server for this project. Ask your "
            "coordinator whether it was removed or belongs to another project."
        )
    if assignment_id is None:
        raise Forbidden(
            f"The form '{meta.form_id}' is not assigned to this phone, so the server cannot "
            "accept it. Ask your coordinator to give you access to it."
        )
    if state == "closed":
        raise FormClosed(
            f"The form '{meta.form_id}' is closed and no longer accepts submissions. "
            "Contact your coordinator."
        )
    if def_id is None:
        raise NotFound(
            f"The server has no version '{meta.version}' of the form '{meta.form_id}'. Ask "
            "your coordinator to publish it, or download the current form in Collect."
        )
    return sender, _Target(form_id, def_id, def_sha256)


# A form version's fields never change once published, and they are derivable from stored rows, so
# each worker keeps them instead of loading ~100 rows per POST. The key holds the XForm's SHA-256
# too, so that an id reused by another database in the same process never finds a stale entry.
_FIELDS: dict[tuple[int, str], tuple[xform.Field, ...]] = {}
_FIELDS_MAX = 512


def _fields(def_id: int, def_sha256: str) -> tuple[xform.Field, ...]:
    key = (def_id, def_sha256)
    found = _FIELDS.get(key)
    if found is None:
        definition = db.session.get(FormDef, def_id, options=[defer(FormDef.xml)])
        assert definition is not None
        found = forms.fields_of(definition)
        if len(_FIELDS) >= _FIELDS_MAX:
            _FIELDS.clear()
        _FIELDS[key] = found
    return found


def _check_name(name: str) -> None:
    # Attachment names become file names in exports and on other devices: no folders, no "..".
    try:
        forms.safe_name(name)
    except BadRequest as e:
        raise InvalidSubmission(
            f"The submission refers to a file named '{name}', which is not an acceptable file name."
        ) from e


# Built once, like the lookups above: constructing them cost more than executing them.
_NEW_SUBMISSION = insert(Submission).returning(Submission.id)
_NEW_VERSION = insert(SubmissionDef).returning(SubmissionDef.id)
_NEW_ATTACHMENTS = insert(SubmissionAttachment)


def _create(
    target: _Target, incoming: _Incoming, sent: dict[str, File], origin: _Origin
) -> Received:
    meta = incoming.meta
    now = datetime.now(UTC)
    deprecated = None
    if meta.deprecated_id is not None:
        deprecated = _def_by_instance(target.form_id, meta.deprecated_id)
        if deprecated is None:
            raise NotFound(
                "The submission you edited is not on the server, so the edit cannot be "
                "stored. Send the original first, or ask your coordinator."
            )
        if deprecated.submission.deleted_at is not None:
            raise _deleted()
    # Files first, rows after: the bytes are durable before anything points to them, and on
    # SQLite the single write lock is not held while files are written and synced.
    written = {
        name: (_write(sent[name]), _content_type(sent[name]))
        for name in incoming.expected
        if name in sent
    }
    blob_ids = {name: blobs.add_row(w, content_type) for name, (w, content_type) in written.items()}
    # Plain INSERT ... RETURNING statements on the session's connection (in its transaction),
    # with the rows as parameters so each statement is compiled once: this is the server's
    # hottest write, and the ORM's unit of work cost more than the SQL.
    sql = db.session.connection()
    if deprecated is None:
        submission_id = sql.execute(
            _NEW_SUBMISSION,
            {
                "form_id": target.form_id,
                "instance_id": meta.instance_id,
                "submitter_id": origin.actor_id,
                "device_id": origin.device_id,
                "created_at": now,
            },
        ).scalar_one()
    else:
        # Only the request that flips `current` from true to false may add the next version;
        # any other one (a retry of this edit, or a competing edit) re-reads what was stored.
        flipped = db.session.execute(
            update(SubmissionDef)
            .where(SubmissionDef.id == deprecated.id, SubmissionDef.current.is_(True))
            .values(current=False)
            .execution_options(synchronize_session=False)
        )
        if getattr(flipped, "rowcount", 0) != 1:
            raise _Retry()
        # Collect re-sends only the files that changed; the others carry over from the
        # edited version.
        for previous in deprecated.attachments:
            if previous.blob_id is not None:
                blob_ids.setdefault(previous.name, previous.blob_id)
        submission_id = deprecated.submission_id
        db.session.execute(
            update(Submission)
            .where(Submission.id == submission_id)
            .values(updated_at=now, review_state="edited")
            .execution_options(synchronize_session=False)
        )
    missing = tuple(name for name in incoming.expected if name not in blob_ids)
    version_id = sql.execute(
        _NEW_VERSION,
        {
            "submission_id": submission_id,
            "form_id": target.form_id,
            "form_def_id": target.def_id,
            "instance_id": meta.instance_id,
            "instance_name": _cut(meta.instance_name, _INSTANCE_NAME_MAX),
            "deprecated_id": meta.deprecated_id,
            "xml": incoming.xml,
            "xml_sha256": incoming.sha256,
            "data": incoming.data,
            "current": True,
            "encrypted": meta.encrypted,
            "submitter_id": origin.actor_id,
            "device_id": origin.device_id,
            "user_agent": origin.user_agent,
            "attachments_expected": len(incoming.expected),
            "attachments_present": len(incoming.expected) - len(missing),
            "created_at": now,
        },
    ).scalar_one()
    if incoming.expected:
        sql.execute(
            _NEW_ATTACHMENTS,
            [
                {"submission_def_id": version_id, "name": name, "blob_id": blob_ids.get(name)}
                for name in incoming.expected
            ],
        )
    db.session.commit()
    return Received(meta.instance_id, missing)


# A new submission in one statement on PostgreSQL, where each statement is a round trip between
# processes that costs more than the statement itself: the rows of the files (`ON CONFLICT ... DO
# UPDATE` so that a row another request stored a moment ago is returned too), the submission,
# its first version and its attachments, in document order. Data-modifying CTEs are
# PostgreSQL's; SQLite, in process, takes the plain statements of `_create`.
_CREATE_AT_ONCE = text(
    """
WITH stored_blobs AS (
    INSERT INTO blobs (sha256, md5, size, content_type, created_at)
    SELECT b.sha256, b.md5, b.size, b.content_type, :now
    FROM unnest(
        CAST(:blob_sha256 AS varchar[]), CAST(:blob_md5 AS varchar[]),
        CAST(:blob_size AS bigint[]), CAST(:blob_type AS varchar[])
    ) AS b(sha256, md5, size, content_type)
    ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256
    RETURNING id, sha256
), new_submission AS (
    INSERT INTO submissions (form_id, instance_id, submitter_id, device_id, created_at)
    VALUES (:form_id, :instance_id, :submitter_id, :device_id, :now)
    RETURNING id
), new_version AS (
    INSERT INTO submission_defs (
        submission_id, form_id, form_def_id, instance_id, instance_name, deprecated_id, xml,
        xml_sha256, data, current, encrypted, submitter_id, device_id, user_agent,
        attachments_expected, attachments_present, created_at
    )
    SELECT id, :form_id, :form_def_id, :instance_id, :instance_name, NULL, :xml,
        :xml_sha256, :data, true, :encrypted, :submitter_id, :device_id, :user_agent,
        :expected, :present, :now
    FROM new_submission
    RETURNING id
)
INSERT INTO submission_attachments (submission_def_id, name, blob_id)
SELECT new_version.id, f.name, stored_blobs.id
FROM new_version
CROSS JOIN unnest(CAST(:file_name AS varchar[]), CAST(:file_sha256 AS varchar[]))
    WITH ORDINALITY AS f(name, sha256, position)
LEFT JOIN stored_blobs ON stored_blobs.sha256 = f.sha256
ORDER BY f.position
"""
).bindparams(
    bindparam("xml", type_=SubmissionDef.__table__.c.xml.type),
    bindparam("data", type_=SubmissionDef.__table__.c.data.type),
    bindparam("now", type_=SubmissionDef.__table__.c.created_at.type),
)


def _create_at_once(
    target: _Target, incoming: _Incoming, sent: dict[str, File], origin: _Origin
) -> Received:
    meta = incoming.meta
    # Files first, as in `_create`: durable before the statement that points to them.
    written = {
        name: (_write(sent[name]), _content_type(sent[name]))
        for name in incoming.expected
        if name in sent
    }
    blobs_rows = {w.sha256: (w, content_type) for w, content_type in written.values()}
    missing = tuple(name for name in incoming.expected if name not in written)
    db.session.connection().execute(
        _CREATE_AT_ONCE,
        {
            "blob_sha256": list(blobs_rows),
            "blob_md5": [w.md5 for w, _ in blobs_rows.values()],
            "blob_size": [w.size for w, _ in blobs_rows.values()],
            "blob_type": [content_type for _, content_type in blobs_rows.values()],
            "form_id": target.form_id,
            "form_def_id": target.def_id,
            "instance_id": meta.instance_id,
            "instance_name": _cut(meta.instance_name, _INSTANCE_NAME_MAX),
            "xml": incoming.xml,
            "xml_sha256": incoming.sha256,
            "data": incoming.data,
            "encrypted": meta.encrypted,
            "submitter_id": origin.actor_id,
            "device_id": origin.device_id,
            "user_agent": origin.user_agent,
            "expected": len(incoming.expected),
            "present": len(incoming.expected) - len(missing),
            "now": datetime.now(UTC),
            "file_name": list(incoming.expected),
            "file_sha256": [
                written[name][0].sha256 if name in written else None for name in incoming.expected
            ],
        },
    )
    db.session.commit()
    return Received(meta.instance_id, missing)


def _top_up(stored: SubmissionDef, incoming: _Incoming, sent: dict[str, File]) -> Received:
    """Add the files of a resent (or split) submission whose XML is already stored."""
    if stored.submission.deleted_at is not None:
        raise _deleted()
    if stored.xml_sha256 != incoming.sha256 or stored.xml != incoming.xml:
        raise Conflict(
            "The server already has a different form with the same instanceID, so this one "
            "was not stored. Ask your coordinator; the form stays on this phone."
        )
    missing = {a.name for a in stored.attachments if a.blob_id is None}
    arriving = [f for name, f in sent.items() if name in missing]
    if arriving:
        # Lock the version first: two parts of a split upload may arrive on two workers at once,
        # and each must count the other's files once it has committed. (SQLite has no row locks;
        # its single writer, taken by the first UPDATE below, gives the same order.)
        db.session.execute(
            select(SubmissionDef.id).where(SubmissionDef.id == stored.id).with_for_update()
        )
        for file in arriving:
            db.session.execute(
                update(SubmissionAttachment)
                .where(
                    SubmissionAttachment.submission_def_id == stored.id,
                    SubmissionAttachment.name == file.name,
                    SubmissionAttachment.blob_id.is_(None),
                )
                .values(blob_id=_put(file))
                .execution_options(synchronize_session=False)
            )
        present = db.session.scalar(
            select(func.count(SubmissionAttachment.id)).where(
                SubmissionAttachment.submission_def_id == stored.id,
                SubmissionAttachment.blob_id.isnot(None),
            )
        )
        db.session.execute(
            update(SubmissionDef)
            .where(SubmissionDef.id == stored.id)
            .values(attachments_present=present or 0)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return Received(stored.instance_id, _missing(stored))


def _missing(version: SubmissionDef) -> tuple[str, ...]:
    return tuple(a.name for a in version.attachments if a.blob_id is None)


def _put(file: File) -> int:
    return blobs.put_id(file.read(), _content_type(file))


def _write(file: File) -> blobs.Written:
    return blobs.write(file.read())


def _content_type(file: File) -> str:
    if not file.content_type or file.content_type == "application/octet-stream":
        return mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return file.content_type


def _def_by_instance(form_id: int, instance_id: str) -> SubmissionDef | None:
    return db.session.scalar(
        select(SubmissionDef).where(
            SubmissionDef.form_id == form_id, SubmissionDef.instance_id == instance_id
        )
    )


def _deleted() -> Deleted:
    return Deleted(
        "This submission was deleted on the server, so it was not stored again. Ask your "
        "coordinator if it should be restored."
    )


def _cut(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None


# Reading (JSON API) -----------------------------------------------------------------------------


def _form(actor: Actor, project_id: int, xml_form_id: str, verb: str) -> Form:
    access.require(actor, verb, project_id)
    return forms.find(project_id, xml_form_id)


@dataclass(frozen=True)
class Summary:
    """A submission as the API lists it: its current version and who sent them."""

    submission: Submission
    current: SubmissionDef
    user_agent: str | None  # the first version's, as Central reports it
    submitter: Actor | None
    current_submitter: Actor | None


def listed(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    *,
    top: int | None = None,
    skip: int = 0,
    since: datetime | None = None,
    until: datetime | None = None,
    review_state: str | None = None,
) -> tuple[list[Summary], int]:
    """A form's live submissions with their current versions, newest first, and their count.

    `since` (included) and `until` (excluded) bound the time of receipt; `review_state` keeps
    one state, "" meaning not reviewed yet.
    """
    form = _form(actor, project_id, xml_form_id, "submission.read")
    live = and_(Submission.form_id == form.id, Submission.deleted_at.is_(None))
    if since is not None:
        live = and_(live, Submission.created_at >= since)
    if until is not None:
        live = and_(live, Submission.created_at < until)
    if review_state == "":
        live = and_(live, Submission.review_state.is_(None))
    elif review_state is not None:
        live = and_(live, Submission.review_state == review_state)
    total = db.session.scalar(select(func.count(Submission.id)).where(live)) or 0
    stmt = (
        _summaries()
        .where(live)
        .order_by(Submission.created_at.desc(), Submission.id.desc())
        .offset(skip)
    )
    if top is not None:
        stmt = stmt.limit(top)
    return [Summary(*row) for row in db.session.execute(stmt)], total


def get(actor: Actor, project_id: int, xml_form_id: str, instance_id: str) -> Summary:
    """One live submission, by the instanceID it was first sent with."""
    form = _form(actor, project_id, xml_form_id, "submission.read")
    return _summary(_submission(form, instance_id))


def _summaries() -> Select[Submission, SubmissionDef, str | None, Actor, Actor]:
    first_agent = (
        select(SubmissionDef.user_agent)
        .where(SubmissionDef.submission_id == Submission.id)
        .order_by(SubmissionDef.id)
        .limit(1)
        .correlate(Submission)
        .scalar_subquery()
    )
    current_def = aliased(SubmissionDef)
    submitter = aliased(Actor)
    current_submitter = aliased(Actor)
    return (
        select(Submission, current_def, first_agent, submitter, current_submitter)
        .join(
            current_def,
            and_(current_def.submission_id == Submission.id, current_def.current.is_(True)),
        )
        .outerjoin(submitter, submitter.id == Submission.submitter_id)
        .outerjoin(current_submitter, current_submitter.id == current_def.submitter_id)
        # The derived values come along (pages show them); the raw XML stays in the database.
        .options(defer(current_def.xml))
    )


def _summary(submission: Submission) -> Summary:
    row = db.session.execute(_summaries().where(Submission.id == submission.id)).one()
    return Summary(*row)


def _submission(form: Form, instance_id: str) -> Submission:
    submission = db.session.scalar(
        select(Submission).where(
            Submission.form_id == form.id,
            Submission.instance_id == instance_id,
            Submission.deleted_at.is_(None),
        )
    )
    if submission is None:
        raise NotFound(f"There is no submission '{instance_id}' of this form.")
    return submission


def _current(submission: Submission) -> SubmissionDef:
    return next(d for d in reversed(submission.defs) if d.current)


def versions(
    actor: Actor, project_id: int, xml_form_id: str, instance_id: str
) -> list[tuple[SubmissionDef, Actor | None]]:
    """Every version of a submission (edits) with who sent it, newest first."""
    form = _form(actor, project_id, xml_form_id, "submission.read")
    submission = _submission(form, instance_id)
    return [
        (version, submitter)
        for version, submitter in db.session.execute(
            select(SubmissionDef, Actor)
            .outerjoin(Actor, Actor.id == SubmissionDef.submitter_id)
            .options(defer(SubmissionDef.xml), defer(SubmissionDef.data))
            .where(SubmissionDef.submission_id == submission.id)
            .order_by(SubmissionDef.id.desc())
        )
    ]


def attachments(
    actor: Actor, project_id: int, xml_form_id: str, instance_id: str
) -> list[SubmissionAttachment]:
    """The files the current version refers to; `blob_id` is None for those not arrived."""
    form = _form(actor, project_id, xml_form_id, "submission.read")
    return list(_current(_submission(form, instance_id)).attachments)


def raw(actor: Actor, project_id: int, xml_form_id: str, instance_id: str) -> SubmissionDef:
    """The current version, for its XML and files; needs the right to see personal data when
    the form marks questions as sensitive."""
    form = _form(actor, project_id, xml_form_id, "submission.read")
    version = _current(_submission(form, instance_id))
    if _has_sensitive(version.form_def_id):
        access.require(actor, "submission.sensitive", project_id)
    return version


def attachment(
    actor: Actor, project_id: int, xml_form_id: str, instance_id: str, name: str
) -> Blob:
    """One file of a submission's current version."""
    version = raw(actor, project_id, xml_form_id, instance_id)
    found = next((a for a in version.attachments if a.name == name), None)
    if found is None or found.blob is None:
        raise NotFound(f"The submission has no file named '{name}' on the server.")
    return found.blob


def _has_sensitive(form_def_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(FormField.form_def_id == form_def_id, FormField.sensitive.is_(True))
            )
        )
    )


def review(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    instance_id: str,
    state: str | None,
    comment: str | None = None,
) -> Summary:
    """Set a submission's review state (None means received), with an optional comment."""
    form = _form(actor, project_id, xml_form_id, "submission.update")
    if state is not None and state not in REVIEW_STATES:
        raise InvalidSubmission(
            f"A review state is one of {', '.join(REVIEW_STATES)} or null, not '{state}'."
        )
    submission = _submission(form, instance_id)
    submission.review_state = state
    submission.updated_at = datetime.now(UTC)
    if comment and comment.strip():
        db.session.add(
            Comment(submission_id=submission.id, actor_id=actor.id, body=comment.strip())
        )
    audits.log(
        actor,
        "submission.update",
        f"form:{form.id}",
        instanceId=instance_id,
        reviewState=state,
    )
    db.session.commit()
    return _summary(submission)


def comments(actor: Actor, project_id: int, xml_form_id: str, instance_id: str) -> list[Comment]:
    """A submission's comments, oldest first."""
    submission = _submission(_form(actor, project_id, xml_form_id, "submission.read"), instance_id)
    return list(
        db.session.scalars(
            select(Comment)
            .where(Comment.submission_id == submission.id)
            .order_by(Comment.created_at, Comment.id)
        )
    )


def add_comment(
    actor: Actor, project_id: int, xml_form_id: str, instance_id: str, body: str
) -> Comment:
    """Add a reviewer's comment to a submission."""
    form = _form(actor, project_id, xml_form_id, "submission.update")
    submission = _submission(form, instance_id)
    if not body.strip():
        raise InvalidSubmission("A comment needs some text.")
    comment = Comment(submission_id=submission.id, actor_id=actor.id, body=body.strip())
    db.session.add(comment)
    audits.log(actor, "submission.comment", f"form:{form.id}", instanceId=instance_id)
    db.session.commit()
    return comment
