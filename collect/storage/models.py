"""Typed SQLAlchemy models: columns and relationships only, no behaviour."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from collect.storage.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


Timestamp = DateTime(timezone=True)


class Actor(Base):
    """Anyone who can act: a web user or an app user (a device's token). Central's actors."""

    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16))  # "user" or "field_key"
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp)

    user: Mapped[User | None] = relationship(back_populates="actor", uselist=False)
    app_user: Mapped[AppUser | None] = relationship(back_populates="actor", uselist=False)


class User(Base):
    __tablename__ = "users"

    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)

    actor: Mapped[Actor] = relationship(back_populates="user")


class AppUser(Base):
    """A device identity: its token goes in the URL that ODK Collect is configured with."""

    __tablename__ = "app_users"

    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    # Kept readable (as Central does) because the QR code must be shown again later.
    token: Mapped[str | None] = mapped_column(String(128), unique=True)

    actor: Mapped[Actor] = relationship(back_populates="app_user")


class Session(Base):
    """A bearer token for a web user; only its SHA-256 is stored."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    min_cell: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp)


class ProjectAssignment(Base):
    """A web user's role in a project (manager or viewer)."""

    __tablename__ = "project_assignments"
    __table_args__ = (UniqueConstraint("project_id", "actor_id", "role_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), index=True)
    role_id: Mapped[int] = mapped_column(Integer)


class FormAssignment(Base):
    """An app user's access to one form (Central's app-user role on a form)."""

    __tablename__ = "form_assignments"
    __table_args__ = (UniqueConstraint("form_id", "actor_id", "role_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"), index=True)
    role_id: Mapped[int] = mapped_column(Integer)


class Blob(Base):
    """Bytes kept once per SHA-256 in the blob store; the row says they exist and what they are."""

    __tablename__ = "blobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Form(Base):
    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("project_id", "xml_form_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    xml_form_id: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="open")
    current_def_id: Mapped[int | None] = mapped_column(
        ForeignKey("form_defs.id", use_alter=True, name="fk_forms_current_def_id_form_defs")
    )
    draft_def_id: Mapped[int | None] = mapped_column(
        ForeignKey("form_defs.id", use_alter=True, name="fk_forms_draft_def_id_form_defs")
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp)

    current_def: Mapped[FormDef | None] = relationship(foreign_keys=[current_def_id])
    draft_def: Mapped[FormDef | None] = relationship(foreign_keys=[draft_def_id])


class FormDef(Base):
    """One version of a form: the XForm bytes Collect downloads, its workbook and field tree."""

    __tablename__ = "form_defs"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    version: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(500))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    xls_blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))
    xls_content_type: Mapped[str | None] = mapped_column(String(200))
    public_key: Mapped[str | None] = mapped_column(Text)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    indicators: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    validation: Mapped[str] = mapped_column(String(16), default="skipped")  # passed / skipped
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(Timestamp)

    fields: Mapped[list[FormField]] = relationship(
        order_by="FormField.order", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[FormAttachment]] = relationship(
        order_by="FormAttachment.name", cascade="all, delete-orphan"
    )


Index(
    "ix_form_defs_published_version",
    FormDef.form_id,
    FormDef.version,
    unique=True,
    sqlite_where=FormDef.published_at.isnot(None),
    postgresql_where=FormDef.published_at.isnot(None),
)


class FormField(Base):
    """A node of a form version's primary instance, in document order (see domain/xform.py)."""

    __tablename__ = "form_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_def_id: Mapped[int] = mapped_column(ForeignKey("form_defs.id"), index=True)
    order: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1000))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    control: Mapped[str | None] = mapped_column(String(32))
    repeat: Mapped[str | None] = mapped_column(String(1000))
    calculate: Mapped[bool] = mapped_column(Boolean, default=False)
    list_name: Mapped[str | None] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    choices: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)


class FormAttachment(Base):
    """A media file a form version expects (image, audio, CSV); `blob_id` is null until sent."""

    __tablename__ = "form_attachments"
    __table_args__ = (UniqueConstraint("form_def_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_def_id: Mapped[int] = mapped_column(ForeignKey("form_defs.id"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    type: Mapped[str] = mapped_column(String(16))  # image, audio, video, file
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)

    blob: Mapped[Blob | None] = relationship()


class Submission(Base):
    """A logical submission: its first instanceID and who sent it; versions are SubmissionDefs."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("form_id", "instance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    instance_id: Mapped[str] = mapped_column(String(300))
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    device_id: Mapped[str | None] = mapped_column(String(300))
    review_state: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp)

    defs: Mapped[list[SubmissionDef]] = relationship(
        order_by="SubmissionDef.id", back_populates="submission"
    )


class SubmissionDef(Base):
    """One version of a submission: the XML exactly as received, and values derived from it."""

    __tablename__ = "submission_defs"
    __table_args__ = (UniqueConstraint("form_id", "instance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    form_def_id: Mapped[int] = mapped_column(ForeignKey("form_defs.id"), index=True)
    instance_id: Mapped[str] = mapped_column(String(300))
    instance_name: Mapped[str | None] = mapped_column(String(500))
    deprecated_id: Mapped[str | None] = mapped_column(String(300))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    xml_sha256: Mapped[str] = mapped_column(String(64))
    # Derived from `xml` at receipt ({path: text}, repeats as lists); rebuildable at any time.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    device_id: Mapped[str | None] = mapped_column(String(300))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    attachments_expected: Mapped[int] = mapped_column(Integer, default=0)
    attachments_present: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="defs")
    attachments: Mapped[list[SubmissionAttachment]] = relationship(
        order_by="SubmissionAttachment.id", cascade="all, delete-orphan"
    )


Index("ix_submission_defs_current", SubmissionDef.form_id, SubmissionDef.current)


class SubmissionAttachment(Base):
    """A file a submission version references; `blob_id` is null while it has not arrived."""

    __tablename__ = "submission_attachments"
    __table_args__ = (UniqueConstraint("submission_def_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_def_id: Mapped[int] = mapped_column(ForeignKey("submission_defs.id"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))

    blob: Mapped[Blob | None] = relationship()


class Comment(Base):
    """A reviewer's note on a submission, usually given with a review-state change."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Audit(Base):
    """What happened, by whom: logins, publishes, exports (with their options), reviews."""

    __tablename__ = "audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    acted_on: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    logged_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class LoginAttempt(Base):
    """A failed sign-in, shared by every worker, to slow down password guessing (throttle.py)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    attempted_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    # The client's address (an IPv6 client's /64); None for attempts made before it was kept.
    address: Mapped[str | None] = mapped_column(String(64), index=True)
    # A hash of the nonce of the device cookie the client sent, when it was valid for the email.
    device: Mapped[str | None] = mapped_column(String(32))
