"""Reviewing submissions: review states and reviewers' comments."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from collect.domain.people import audits
from collect.domain.submissions import read
from collect.errors import InvalidSubmission
from collect.storage.db import db
from collect.storage.models import (
    Actor,
    Comment,
)

REVIEW_STATES = ("hasIssues", "edited", "approved", "rejected")


def review(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    instance_id: str,
    state: str | None,
    comment: str | None = None,
) -> read.Summary:
    """Set a submission's review state (None means received), with an optional comment."""
    form = read.form_for(actor, project_id, xml_form_id, "submission.update")
    if state is not None and state not in REVIEW_STATES:
        raise InvalidSubmission(
            f"A review state is one of {', '.join(REVIEW_STATES)} or null, not '{state}'."
        )
    submission = read.submission_of(form, instance_id)
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
    return read.summary(actor, form, submission)


def comments(actor: Actor, project_id: int, xml_form_id: str, instance_id: str) -> list[Comment]:
    """A submission's comments, oldest first."""
    submission = read.submission_of(
        read.form_for(actor, project_id, xml_form_id, "submission.read"), instance_id
    )
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
    form = read.form_for(actor, project_id, xml_form_id, "submission.update")
    submission = read.submission_of(form, instance_id)
    if not body.strip():
        raise InvalidSubmission("A comment needs some text.")
    comment = Comment(submission_id=submission.id, actor_id=actor.id, body=body.strip())
    db.session.add(comment)
    audits.log(actor, "submission.comment", f"form:{form.id}", instanceId=instance_id)
    db.session.commit()
    return comment
