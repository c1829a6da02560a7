"""The hand-written SQL of the receiving hot path, built once per worker.

Bound values keep the lookups out of the statement text, so SQLAlchemy neither rebuilds nor
re-hashes them per request, and constructing them cost more than executing them. They name
the models' columns; tests/domain/test_statements.py checks every column they write exists
in `storage/models.py` with the type they bind.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, insert, select, text

from collect.storage.models import (
    Actor,
    AppUser,
    Form,
    FormAssignment,
    FormDef,
    Project,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
)

# The lookups of every device request, built once: bound values keep them out of the
# statement, so SQLAlchemy neither rebuilds nor re-hashes them per request.
LIVE_APP_USER = and_(
    AppUser.token == bindparam("token"),
    Actor.deleted_at.is_(None),
    Project.deleted_at.is_(None),
)
DEVICE = (
    select(AppUser.actor_id, AppUser.project_id)
    .join(Actor, Actor.id == AppUser.actor_id)
    .join(Project, Project.id == AppUser.project_id)
    .where(LIVE_APP_USER)
)
# A submission's sender and the form version it is for, in one round trip to the database.
SENDER = (
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
    .where(LIVE_APP_USER)
)

# Built once, like the lookups above: constructing them cost more than executing them.
NEW_SUBMISSION = insert(Submission).returning(Submission.id)
NEW_VERSION = insert(SubmissionDef).returning(SubmissionDef.id)
NEW_ATTACHMENTS = insert(SubmissionAttachment)
# A new submission in one statement on PostgreSQL, where each statement is a round trip between
# processes that costs more than the statement itself: the rows of the files (`ON CONFLICT ... DO
# UPDATE` so that a row another request stored a moment ago is returned too), the submission,
# its first version and its attachments, in document order. Data-modifying CTEs are
# PostgreSQL's; SQLite, in process, takes the plain statements of `_create`.
CREATE_AT_ONCE = text(
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
