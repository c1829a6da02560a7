"""Receiving submissions exactly once: from devices (OpenRosa) and from the API (pyodk).

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
from typing import IO

from lxml import etree
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from collect.domain import forms
from collect.domain.forms import fields as form_fields
from collect.domain.forms import xform
from collect.domain.people import audits
from collect.domain.submissions import devices, read, statements
from collect.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Deleted,
    Forbidden,
    FormClosed,
    InvalidSubmission,
    NotFound,
    StaleEdit,
)
from collect.storage import blobs
from collect.storage.db import db
from collect.storage.models import (
    Actor,
    Form,
    FormDef,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
)

# Column widths of the models; device-provided text longer than this is cut, ids are refused.
_ID_MAX = 300
_DEVICE_ID_MAX = 300
_USER_AGENT_MAX = 500
_INSTANCE_NAME_MAX = 500
# Receiving --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    """A media part of a submission POST: the file's name, its declared type and its bytes."""

    name: str
    content_type: str
    read: Callable[[], bytes]
    # The bytes as a file at their start, when they are in one: stored in chunks, not whole.
    stream: Callable[[], IO[bytes]] | None = None


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
        devices.device(token, project_id)  # a phone that may not send at all hears that first
        raise
    at_once = meta.deprecated_id is None and db.session.get_bind().dialect.name == "postgresql"
    if at_once and not db.session().in_transaction():
        # The one place PostgreSQL runs in autocommit: a new submission from a device is a
        # lookup and one statement (`statements.CREATE_AT_ONCE`), each atomic on its own, so
        # BEGIN and COMMIT would only be two more round trips between processes on the
        # hottest path (a failed statement rolls itself back). Edits, retries and API writes
        # keep their transaction.
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    sender, target = _sender_and_target(token, project_id, meta)
    origin = _Origin(
        sender.actor_id, _cut(device_id, _DEVICE_ID_MAX), _cut(user_agent, _USER_AGENT_MAX)
    )
    received = _store(target, root, meta, xml, files, origin, at_once=at_once)
    db.session.commit()
    return received


def create(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    xml: bytes,
    *,
    device_id: str | None,
    user_agent: str | None,
) -> read.Summary:
    """A new submission from the API (`POST .../submissions`, as pyodk sends it), no files yet.

    Unlike a device's POST, which may be a retry, an instanceID already stored is a 409, as in
    ODK Central; the files follow one by one with `add_file`.
    """
    form = read.form_for(actor, project_id, xml_form_id, "submission.create")
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
    return read.summary(actor, form, read.submission_of(form, meta.instance_id))


def edit(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    instance_id: str,
    xml: bytes,
    *,
    user_agent: str | None,
) -> read.Summary:
    """A new version of a submission from the API (`PUT .../submissions/{instanceId}`).

    The XML's deprecatedID must be the instanceID of the version it replaces (the current one),
    as ODK Collect and Central require; files the edit still refers to carry over.
    """
    form = read.form_for(actor, project_id, xml_form_id, "submission.update")
    submission = read.submission_of(form, instance_id)
    root, meta = _parse(xml)
    _check_form_id(meta, xml_form_id)
    current = read.current_version(submission)
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
    return read.summary(actor, form, read.submission_of(form, instance_id))


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
    form = read.form_for(actor, project_id, xml_form_id, "submission.update")
    current = read.current_version(read.submission_of(form, instance_id))
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
    fields = form_fields.cached(target.def_id, target.def_sha256)
    data = {} if meta.encrypted else xform.submission_values(root, fields)
    expected = meta.media_files if meta.encrypted else tuple(xform.binary_names(data, fields))
    for name in (*expected, *(f.name for f in files)):
        _check_name(name)
    # Read each file once: a lost race re-reads the stored rows and may need the bytes again.
    sent = {
        f.name: File(f.name, f.content_type, functools.cache(f.read), f.stream)
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
) -> tuple[devices.Device, _Target]:
    """The app user sending, and the form and published version the submission belongs to."""
    params = {"token": token, "form": meta.form_id, "version": meta.version}
    row = db.session.connection().execute(statements.SENDER, params).first()
    sender = devices.checked(None if row is None else (row[0], row[1]), token, project_id)
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


def _check_name(name: str) -> None:
    # Attachment names become file names in exports and on other devices: no folders, no "..".
    try:
        forms.safe_name(name)
    except BadRequest as e:
        raise InvalidSubmission(
            f"The submission refers to a file named '{name}', which is not an acceptable file name."
        ) from e


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
            statements.NEW_SUBMISSION,
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
        statements.NEW_VERSION,
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
            statements.NEW_ATTACHMENTS,
            [
                {"submission_def_id": version_id, "name": name, "blob_id": blob_ids.get(name)}
                for name in incoming.expected
            ],
        )
    return Received(meta.instance_id, missing)


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
        statements.CREATE_AT_ONCE,
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
        # The statements above bypass the ORM: read the attachments again, in this transaction.
        db.session.expire(stored)
    return Received(stored.instance_id, _missing(stored))


def _missing(version: SubmissionDef) -> tuple[str, ...]:
    return tuple(a.name for a in version.attachments if a.blob_id is None)


def _put(file: File) -> int:
    return blobs.add_row(_write(file), _content_type(file))


def _write(file: File) -> blobs.Written:
    if file.stream is not None:
        return blobs.write_file(file.stream())
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
