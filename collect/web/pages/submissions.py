"""What the submission pages show: a form's submissions as a labelled table, and one in full.

Labels come in the language the reader picks; what the reader may see of the answers is the
domain's one rule (domain/forms/disclosure.py), as in the JSON API, the exports and OData.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from collect.domain import forms, submissions
from collect.domain.evaluation.indicators import pick_label
from collect.domain.forms import disclosures
from collect.domain.forms.disclosure import Disclosure
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
    instance_name: str | None  # as the reader may see it
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
    instance_name: str | None  # as the reader may see it
    answers: list[Answer]
    versions: list[submissions.Version]
    submitter: str
    attachments: list[tuple[str, bool, bool]]  # name, arrived, is an image
    comments: list[Comment]
    withheld: bool  # the form has answers kept from this reader

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


def _visible_fields(form: Form, shown: Disclosure) -> list[FormField]:
    """The questions the table shows: answered on the form, not hidden from this reader."""
    definition = form.current_def or form.draft_def
    if definition is None:
        return []
    return [
        f
        for f in definition.fields
        if f.type not in ("structure", "repeat")
        and not f.path.startswith("/meta/")
        and f.control is not None
        and f.control != "trigger"
        and not shown.hides(f.path)
    ]


def _label(f: FormField, lang: str | None) -> str:
    return pick_label(f.labels, lang) or f.name


def _text(f: FormField, value: Any, lang: str | None) -> Cell:
    if value is None or value == "":
        return Cell("")
    text = str(value)
    if f.choices:
        names = text.split() if f.control == "select" else [text]
        labels = {c["name"]: pick_label(c["labels"], lang) or c["name"] for c in f.choices}
        return Cell(", ".join(labels.get(n, n) for n in names))
    if f.type == "binary":
        # A file a shown question names is never one only hidden answers name: shown too.
        is_image = text.lower().endswith((".jpg", ".jpeg", ".png", ".gif", ".webp"))
        return Cell(text, image=text if is_image else None)
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
    shown = disclosures.of(actor, form)
    fields = _visible_fields(form, shown)
    columns = [Column(f.path, _label(f, filters.lang), f) for f in fields if f.repeat is None]
    lines = []
    for row in rows:
        values = row.values
        lines.append(
            Line(
                row.submission,
                row.current,
                row.instance_name,
                row.submitter.display_name if row.submitter else "",
                [_text(c.field, values.get(c.path), filters.lang) for c in columns],
            )
        )
    definition = form.current_def or form.draft_def
    return TablePage(
        project=project,
        form=form,
        name=(definition.name if definition and definition.name else form.xml_form_id),
        verbs=verbs,
        languages=list(definition.languages) if definition else [],
        columns=columns,
        lines=lines,
        total=total,
        filters=filters,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


def _answers(
    fields: list[FormField], values: dict[str, Any], repeat: str | None, lang: str | None
) -> list[Answer]:
    out: list[Answer] = []
    by_path = {f.path: f for f in fields}
    for f in fields:
        if f.type == "repeat":
            if _parent(f.path, by_path) != repeat:
                continue
            instances = values.get(f.path) or []
            group = [_answers(fields, item, f.path, lang) for item in instances]
            out.append(Answer(_label(f, lang), group=group))
        elif f.type != "structure" and f.repeat == repeat and f.path in values:
            cell = _text(f, values.get(f.path), lang)
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
    definition = form.current_def or form.draft_def
    fields = [
        f for f in (definition.fields if definition else []) if not f.path.startswith("/meta")
    ]
    visible = [f for f in fields if not summary.shown.hides(f.path)]
    images = (".jpg", ".jpeg", ".png", ".gif", ".webp")
    attachments = [
        (a.name, a.blob_id is not None, a.name.lower().endswith(images))
        for a in submissions.attachments(actor, project_id, xml_form_id, instance_id)
    ]
    return DetailPage(
        project=project,
        form=form,
        name=(definition.name if definition and definition.name else form.xml_form_id),
        verbs=verbs,
        languages=list(definition.languages) if definition else [],
        lang=lang,
        submission=submission,
        version=version,
        instance_name=summary.instance_name,
        answers=_answers(visible, summary.values, None, lang),
        versions=submissions.versions(actor, project_id, xml_form_id, instance_id),
        submitter=summary.submitter.display_name if summary.submitter else "",
        attachments=attachments,
        comments=submissions.comments(actor, project_id, xml_form_id, instance_id),
        withheld=summary.shown.withholds,
    )
