"""Reading submissions through the JSON API: lists, one submission, versions, files, XML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import aliased, defer

from collect.domain import forms
from collect.domain.forms import disclosures
from collect.domain.forms.disclosure import Disclosure
from collect.domain.people import access
from collect.errors import Forbidden, NotFound
from collect.storage.db import db
from collect.storage.models import (
    Actor,
    Blob,
    Form,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
)

# Reading (JSON API) -----------------------------------------------------------------------------


def form_for(actor: Actor, project_id: int, xml_form_id: str, verb: str) -> Form:
    access.require(actor, verb, project_id)
    return forms.find(project_id, xml_form_id)


@dataclass(frozen=True)
class Summary:
    """A submission as the API lists it: its current version and who sent them, with what
    the reader may see of its answers."""

    submission: Submission
    current: SubmissionDef
    user_agent: str | None  # the first version's, as Central reports it
    submitter: Actor | None
    current_submitter: Actor | None
    shown: Disclosure

    @property
    def instance_name(self) -> str | None:
        """The current version's instanceName, unless it is kept from the reader."""
        return self.shown.instance_name_of(self.current.instance_name)

    @property
    def values(self) -> dict[str, Any]:
        """The current version's answers the reader may see."""
        return self.shown.values(self.current.data or {})


@dataclass(frozen=True)
class Version:
    """One version of a submission, who sent it, and its instanceName as the reader sees it."""

    definition: SubmissionDef
    submitter: Actor | None
    instance_name: str | None


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
    form = form_for(actor, project_id, xml_form_id, "submission.read")
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
    shown = disclosures.of(actor, form)
    return [Summary(*row, shown) for row in db.session.execute(stmt)], total


def get(actor: Actor, project_id: int, xml_form_id: str, instance_id: str) -> Summary:
    """One live submission, by the instanceID it was first sent with."""
    form = form_for(actor, project_id, xml_form_id, "submission.read")
    return summary(actor, form, submission_of(form, instance_id))


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


def summary(actor: Actor, form: Form, submission: Submission) -> Summary:
    """One submission of `form` as `actor` may see it."""
    row = db.session.execute(_summaries().where(Submission.id == submission.id)).one()
    return Summary(*row, disclosures.of(actor, form))


def submission_of(form: Form, instance_id: str) -> Submission:
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


def current_version(submission: Submission) -> SubmissionDef:
    return next(d for d in reversed(submission.defs) if d.current)


def versions(actor: Actor, project_id: int, xml_form_id: str, instance_id: str) -> list[Version]:
    """Every version of a submission (edits) with who sent it, newest first."""
    form = form_for(actor, project_id, xml_form_id, "submission.read")
    submission = submission_of(form, instance_id)
    shown = disclosures.of(actor, form)
    return [
        Version(version, submitter, shown.instance_name_of(version.instance_name))
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
    """The files the current version refers to, but those only hidden answers name; `blob_id`
    is None for those not arrived."""
    form = form_for(actor, project_id, xml_form_id, "submission.read")
    version = current_version(submission_of(form, instance_id))
    hidden = disclosures.of(actor, form).hidden_files(version.data or {})
    return [a for a in version.attachments if a.name not in hidden]


def raw(actor: Actor, project_id: int, xml_form_id: str, instance_id: str) -> SubmissionDef:
    """The current version, for its XML as received: only for readers from whom nothing of
    the form's answers is kept, since the XML holds every answer."""
    form = form_for(actor, project_id, xml_form_id, "submission.read")
    if disclosures.of(actor, form).withholds:
        raise Forbidden(
            "This form has sensitive questions (personal data), so the XML of its submissions "
            "is for project managers only; the submission's JSON, the exports and the OData "
            "feed leave those answers out."
        )
    return current_version(submission_of(form, instance_id))


def attachment(
    actor: Actor, project_id: int, xml_form_id: str, instance_id: str, name: str
) -> Blob:
    """One file of a submission's current version, unless only hidden answers name it."""
    found = next(
        (a for a in attachments(actor, project_id, xml_form_id, instance_id) if a.name == name),
        None,
    )
    if found is None or found.blob is None:
        raise NotFound(f"The submission has no file named '{name}' on the server.")
    return found.blob
