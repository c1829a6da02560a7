"""What the submission pages show: a form's submissions as a labelled table, and one in full.

Labels come in the language the reader picks; questions marked sensitive are shown only to
those allowed to see personal data (managers), as in the exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from collect.domain import forms, submissions
from collect.domain.evaluation.indicators import pick_label
from collect.domain.people import access, projects
from collect.errors import BadRequest
from collect.storage.models import (
    Actor,
    Comment,
    Form,
    FormField,
    Project,
    Submission,
    SubmissionDef,
)

PAGE_SIZE = 25
REVIEW_LABELS = {
    "": "Received",
    "hasIssues": "Has issues",
    "edited": "Edited",
    "approved": "Approved",
    "rejected": "Rejected",
}


@dataclass(frozen=True)
class Column:
    path: str
    label: str
    field: FormField


@dataclass(frozen=True)
class Cell:
    text: str
    image: str | None = None  # an attachment name to show as a thumbnail


@dataclass(frozen=True)
class Line:
    submission: Submission
    version: SubmissionDef
    submitter: str
    cells: list[Cell]


@dataclass(frozen=True)
class Filters:
    since: date | None
    until: date | None
    review: str | None  # "" means received (no review yet)
    lang: str | None
    page: int

    @property
    def active(self) -> bool:
        return self.since is not None or self.until is not None or self.review is not None


@dataclass(frozen=True)
class TablePage:
    project: Project
    form: Form
    name: str
    verbs: frozenset[str]
    languages: list[str]
    columns: list[Column]
    lines: list[Line]
    total: int
    filters: Filters
    pages: int

    def can(self, verb: str) -> bool:
        return verb in self.verbs


@dataclass(frozen=True)
class Answer:
    label: str
    cell: Cell | None = None
    group: list[list[Answer]] | None = None  # a repeat: one list of answers per instance


@dataclass(frozen=True)
class DetailPage:
    project: Project
    form: Form
    name: str
    verbs: frozenset[str]
    languages: list[str]
    lang: str | None
    submission: Submission
    version: SubmissionDef
    answers: list[Answer]
    versions: list[tuple[SubmissionDef, Actor | None]]
    submitter: str
    attachments: list[tuple[str, bool, bool]]  # name, arrived, is an image
    comments: list[Comment]
    withheld: bool  # sensitive answers were left out

    def can(self, verb: str) -> bool:
        return verb in self.verbs


def parse_filters(args: Any) -> Filters:
    """Read the table's query string: from, to, review, lang, page."""
    review = args.get("review")
    if review is not None and review not in REVIEW_LABELS and review != "any":
        raise BadRequest("Choose a review state from the list.")
    try:
        page = max(1, int(args.get("page") or 1))
    except ValueError:
        page = 1
    return Filters(
        since=_day(args.get("from")),
        until=_day(args.get("to")),
        review=None if review in (None, "any") else review,
        lang=args.get("lang") or None,
        page=page,
    )


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"'{text}' is not a date: pick one, such as 2026-03-31.") from None


def _visible_fields(form: Form, verbs: frozenset[str]) -> list[FormField]:
    shown = form.current_def or form.draft_def
    if shown is None:
        return []
    sensitive_ok = "submission.sensitive" in verbs
    return [
        f
        for f in shown.fields
        if f.type not in ("structure", "repeat")
        and not f.path.startswith("/meta/")
        and f.control is not None
        and f.control != "trigger"
        and (sensitive_ok or not f.sensitive)
    ]


def _label(f: FormField, lang: str | None) -> str:
    return pick_label(f.labels, lang) or f.name


def _files_visible(form: Form, verbs: frozenset[str]) -> bool:
    """Files of a form with personal data are for those who may see personal data."""
    shown = form.current_def or form.draft_def
    has_sensitive = shown is not None and any(f.sensitive for f in shown.fields)
    return "submission.sensitive" in verbs or not has_sensitive


def _text(f: FormField, value: Any, lang: str | None, files_ok: bool) -> Cell:
    if value is None or value == "":
        return Cell("")
    text = str(value)
    if f.choices:
        names = text.split() if f.control == "select" else [text]
        labels = {c["name"]: pick_label(c["labels"], lang) or c["name"] for c in f.choices}
        return Cell(", ".join(labels.get(n, n) for n in names))
    if f.type == "binary":
        is_image = text.lower().endswith((".jpg", ".jpeg", ".png", ".gif", ".webp"))
        return Cell(text, image=text if is_image and files_ok else None)
    return Cell(text)


def table_page(actor: Actor, project_id: int, xml_form_id: str, filters: Filters) -> TablePage:
    """One page of a form's submissions, newest first, filtered by date and review state."""
    project = projects.get(actor, project_id)
    form = forms.get(actor, project_id, xml_form_id)
    verbs = access.project_verbs(actor, project_id)
    skip = (filters.page - 1) * PAGE_SIZE
    rows, total = submissions.listed(
        actor,
        project_id,
        xml_form_id,
        top=PAGE_SIZE,
        skip=skip,
        since=datetime.combine(filters.since, time(), UTC) if filters.since else None,
        until=(
            datetime.combine(filters.until, time(), UTC) + timedelta(days=1)
            if filters.until
            else None
        ),
        review_state=filters.review,
    )
    fields = _visible_fields(form, verbs)
    files_ok = _files_visible(form, verbs)
    columns = [Column(f.path, _label(f, filters.lang), f) for f in fields if f.repeat is None]
    lines = [
        Line(
            row.submission,
            row.current,
            row.submitter.display_name if row.submitter else "",
            [
                _text(c.field, (row.current.data or {}).get(c.path), filters.lang, files_ok)
                for c in columns
            ],
        )
        for row in rows
    ]
    shown = form.current_def or form.draft_def
    return TablePage(
        project=project,
        form=form,
        name=(shown.name if shown and shown.name else form.xml_form_id),
        verbs=verbs,
        languages=list(shown.languages) if shown else [],
        columns=columns,
        lines=lines,
        total=total,
        filters=filters,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


def _answers(
    fields: list[FormField],
    values: dict[str, Any],
    repeat: str | None,
    lang: str | None,
    files_ok: bool,
) -> list[Answer]:
    out: list[Answer] = []
    by_path = {f.path: f for f in fields}
    for f in fields:
        if f.type == "repeat":
            if _parent(f.path, by_path) != repeat:
                continue
            instances = values.get(f.path) or []
            group = [_answers(fields, item, f.path, lang, files_ok) for item in instances]
            out.append(Answer(_label(f, lang), group=group))
        elif f.type != "structure" and f.repeat == repeat and f.path in values:
            cell = _text(f, values.get(f.path), lang, files_ok)
            out.append(Answer(_label(f, lang), cell=cell))
    return out


def _parent(path: str, by_path: dict[str, FormField]) -> str | None:
    """The innermost repeat above a repeat's own path."""
    head = path.rsplit("/", 1)[0]
    while head:
        found = by_path.get(head)
        if found is not None and found.type == "repeat":
            return found.path
        head = head.rsplit("/", 1)[0]
    return None


def detail_page(
    actor: Actor, project_id: int, xml_form_id: str, instance_id: str, lang: str | None
) -> DetailPage:
    """One submission in full: its answers, files, versions, review state and comments."""
    project = projects.get(actor, project_id)
    form = forms.get(actor, project_id, xml_form_id)
    verbs = access.project_verbs(actor, project_id)
    summary = submissions.get(actor, project_id, xml_form_id, instance_id)
    submission, version = summary.submission, summary.current
    shown = form.current_def or form.draft_def
    all_fields = [f for f in (shown.fields if shown else []) if not f.path.startswith("/meta")]
    sensitive_ok = "submission.sensitive" in verbs
    visible = [f for f in all_fields if sensitive_ok or not f.sensitive]
    withheld = len(visible) != len(all_fields)
    images = (".jpg", ".jpeg", ".png", ".gif", ".webp")
    attachments = [
        (a.name, a.blob_id is not None, a.name.lower().endswith(images))
        for a in submissions.attachments(actor, project_id, xml_form_id, instance_id)
    ]
    return DetailPage(
        project=project,
        form=form,
        name=(shown.name if shown and shown.name else form.xml_form_id),
        verbs=verbs,
        languages=list(shown.languages) if shown else [],
        lang=lang,
        submission=submission,
        version=version,
        answers=_answers(visible, dict(version.data or {}), None, lang, not withheld),
        versions=submissions.versions(actor, project_id, xml_form_id, instance_id),
        submitter=summary.submitter.display_name if summary.submitter else "",
        attachments=[] if withheld else attachments,
        comments=submissions.comments(actor, project_id, xml_form_id, instance_id),
        withheld=withheld,
    )
