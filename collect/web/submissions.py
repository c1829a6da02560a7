"""Submissions in the JSON API under /v1, in ODK Central's paths and shapes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate

from collect.domain import submissions
from collect.domain.people import access
from collect.errors import BadRequest
from collect.storage import blobs
from collect.storage.models import Actor, Comment, SubmissionDef
from collect.web import schemas
from collect.web.auth import current_actor
from collect.web.responses import blob_redirect

bp = Blueprint("submissions", __name__)
XML_TYPES = frozenset({"application/xml", "text/xml"})
BASE = "/projects/<int:pid>/forms/<xml_form_id>/submissions"
Json = tuple[Any, int] | Any


class ReviewIn(Schema):
    reviewState = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(submissions.REVIEW_STATES),
    )
    # Ours, not Central's: the reason for a review, stored as the submission's comment.
    comment = fields.String(load_default=None, allow_none=True)


class CommentIn(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1))


@bp.get(BASE)
def list_submissions(pid: int, xml_form_id: str) -> Response:
    """A form's submissions, newest first; `$top` and `$skip` page them (X-Total-Count)."""
    rows, total = submissions.listed(
        _actor(), pid, xml_form_id, top=_paging("$top"), skip=_paging("$skip") or 0
    )
    extended = _extended()
    response = jsonify([submission_json(s, extended=extended) for s in rows])
    response.headers["X-Total-Count"] = str(total)
    return response


@bp.post(BASE)
def create_submission(pid: int, xml_form_id: str) -> Json:
    """A new submission whose body is its XML, as pyodk's `submissions.create` sends it."""
    found = submissions.create(
        _actor(),
        pid,
        xml_form_id,
        _xml_body(),
        device_id=request.args.get("deviceID"),
        user_agent=request.headers.get("User-Agent"),
    )
    return submission_json(found)


@bp.put(f"{BASE}/<instance_id>")
def edit_submission(pid: int, xml_form_id: str, instance_id: str) -> Json:
    """A new version of a submission: its XML, with meta/deprecatedID the current instanceID."""
    found = submissions.edit(
        _actor(),
        pid,
        xml_form_id,
        instance_id,
        _xml_body(),
        user_agent=request.headers.get("User-Agent"),
    )
    return submission_json(found)


@bp.post(f"{BASE}/<instance_id>/attachments/<name>")
def upload_attachment(pid: int, xml_form_id: str, instance_id: str, name: str) -> Json:
    """A file the current version refers to; the body is the file."""
    request.max_content_length = int(current_app.config["MAX_SUBMISSION_BYTES"])
    submissions.add_file(
        _actor(),
        pid,
        xml_form_id,
        instance_id,
        name,
        request.get_data(cache=False),
        request.mimetype,
    )
    return {"success": True}


@bp.get(f"{BASE}/<instance_id>")
def get_submission(pid: int, xml_form_id: str, instance_id: str) -> Json:
    """One submission, by the instanceID it was first sent with."""
    found = submissions.get(_actor(), pid, xml_form_id, instance_id)
    return submission_json(found, extended=_extended())


@bp.get(f"{BASE}/<instance_id>.xml")
def submission_xml(pid: int, xml_form_id: str, instance_id: str) -> Response:
    """The current version's XML, byte for byte as the device sent it."""
    version = submissions.raw(_actor(), pid, xml_form_id, instance_id)
    return Response(version.xml, mimetype="application/xml")


@bp.patch(f"{BASE}/<instance_id>")
def review(pid: int, xml_form_id: str, instance_id: str) -> Json:
    """Set the review state (hasIssues, edited, approved, rejected or null), with a comment."""
    body = _body(ReviewIn)
    found = submissions.review(
        _actor(), pid, xml_form_id, instance_id, body["reviewState"], body["comment"]
    )
    return submission_json(found)


@bp.get(f"{BASE}/<instance_id>/versions")
def list_versions(pid: int, xml_form_id: str, instance_id: str) -> Json:
    """Every version of a submission (edits), newest first."""
    found = submissions.versions(_actor(), pid, xml_form_id, instance_id)
    extended = _extended()
    return [
        version_json(v.definition, v.instance_name, v.submitter if extended else None)
        for v in found
    ]


@bp.get(f"{BASE}/<instance_id>/attachments")
def list_attachments(pid: int, xml_form_id: str, instance_id: str) -> Json:
    """The files the current version refers to, and whether each has arrived."""
    found = submissions.attachments(_actor(), pid, xml_form_id, instance_id)
    # The store is asked, not only the row: bytes lost from it are not there to download.
    return [{"name": a.name, "exists": a.blob is not None and blobs.exists(a.blob)} for a in found]


@bp.get(f"{BASE}/<instance_id>/attachments/<name>")
def get_attachment(pid: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    """One file of the current version."""
    blob = submissions.attachment(_actor(), pid, xml_form_id, instance_id, name)
    if moved := blob_redirect(blob, name):
        return moved
    response = Response(blobs.open(blob), mimetype=blob.content_type)
    response.content_length = blob.size
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response


@bp.get(f"{BASE}/<instance_id>/comments")
def list_comments(pid: int, xml_form_id: str, instance_id: str) -> Json:
    """Reviewers' comments, oldest first."""
    found = submissions.comments(_actor(), pid, xml_form_id, instance_id)
    return [comment_json(c) for c in found]


@bp.post(f"{BASE}/<instance_id>/comments")
def add_comment(pid: int, xml_form_id: str, instance_id: str) -> Json:
    """Add a comment to a submission."""
    body = _body(CommentIn)
    return comment_json(
        submissions.add_comment(_actor(), pid, xml_form_id, instance_id, body["body"])
    )


# Shapes -----------------------------------------------------------------------------------------


def submission_json(summary: submissions.Summary, *, extended: bool = False) -> dict[str, Any]:
    """Central's Submission: the logical submission and its current version."""
    submission = summary.submission
    out: dict[str, Any] = {
        "instanceId": submission.instance_id,
        "submitterId": submission.submitter_id,
        "deviceId": submission.device_id,
        "userAgent": summary.user_agent,
        "reviewState": submission.review_state,
        "createdAt": schemas.iso(submission.created_at),
        "updatedAt": schemas.iso(submission.updated_at),
        "deletedAt": schemas.iso(submission.deleted_at),
        "currentVersion": version_json(
            summary.current,
            summary.instance_name,
            summary.current_submitter if extended else None,
        ),
    }
    if extended:
        out["submitter"] = _actor_json(summary.submitter)
    return out


def version_json(
    version: SubmissionDef, instance_name: str | None, submitter: Actor | None = None
) -> dict[str, Any]:
    """Central's SubmissionVersion (with `submitter` when given), plus its files' progress;
    `instance_name` is the one the reader may see (see domain/forms/disclosure.py)."""
    out: dict[str, Any] = {
        "instanceId": version.instance_id,
        "instanceName": instance_name,
        "submitterId": version.submitter_id,
        "deviceId": version.device_id,
        "userAgent": version.user_agent,
        "createdAt": schemas.iso(version.created_at),
        "current": version.current,
        "deprecatedId": version.deprecated_id,
        "encrypted": version.encrypted,
        "attachmentsExpected": version.attachments_expected,
        "attachmentsPresent": version.attachments_present,
    }
    if submitter is not None:
        out["submitter"] = _actor_json(submitter)
    return out


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "body": comment.body,
        "actorId": comment.actor_id,
        "createdAt": schemas.iso(comment.created_at),
    }


# Helpers ----------------------------------------------------------------------------------------


def _xml_body() -> bytes:
    if request.mimetype not in XML_TYPES:
        raise BadRequest(
            "Send the submission's XML as the body, with Content-Type application/xml "
            f"(this request's is '{request.mimetype or 'none'}')."
        )
    request.max_content_length = int(current_app.config["MAX_XML_BYTES"])
    return request.get_data(cache=False)


def _actor() -> Actor:
    actor = current_actor()
    access.require_user(actor)
    return actor


def _actor_json(actor: Actor | None) -> dict[str, Any] | None:
    return schemas.actor_json(actor) if actor is not None else None


def _extended() -> bool:
    return request.headers.get("X-Extended-Metadata", "").lower() == "true"


def _paging(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise ValidationError({name: ["Must be a whole number, 0 or more."]})
    return int(value)


def _body(schema: type[Schema]) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError({"body": ["Send a JSON object with Content-Type: application/json."]})
    loaded: dict[str, Any] = schema().load(data)
    return loaded
