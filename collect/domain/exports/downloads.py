"""Submission exports for evaluators: CSV, a ZIP of CSVs with media, and XLSX, streamed.

Rows go from a database cursor (`yield_per`; a server-side cursor on PostgreSQL) through the
table layout of `tables.py` into the file format and out as byte chunks, so memory stays flat
whatever the number of submissions and the first bytes leave at once. A ZIP entry cannot be
interleaved with another, so repeat tables are spooled to temporary files while the root
table streams, then appended; XLSX (`xlsx_parts.py`) is the same kind of ZIP, of XML parts
whose root sheet streams row by row. Closing the chunk iterator (a client that went away) stops the
query and removes the temporary files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    or_,
)

from collect.domain import forms
from collect.domain.exports import csv_table, tables, xlsx_book, zip_archive
from collect.domain.exports.plan import Options, Plan, Tuning
from collect.domain.forms import disclosures
from collect.domain.forms import fields as form_fields
from collect.domain.people import access, audits
from collect.domain.submissions import records
from collect.errors import Forbidden, NotFound
from collect.storage.db import db
from collect.storage.models import (
    Actor,
    Submission,
)

ZIP = "application/zip"
CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Download:
    """An export ready to stream: its file name, type, and the bytes as they are made."""

    filename: str
    mimetype: str
    chunks: Iterator[bytes]
    withheld: list[str] = field(default_factory=list)


def csv_zip(
    actor: Actor, project_id: int, xml_form_id: str, options: Options, tuning: Tuning = Tuning()
) -> Download:
    """The root table, one table per repeat and (unless attachments=false) the media, zipped."""
    return _download(actor, project_id, xml_form_id, options, "csv.zip", tuning)


def csv_root(
    actor: Actor, project_id: int, xml_form_id: str, options: Options, tuning: Tuning = Tuning()
) -> Download:
    """The root table alone, as one CSV file."""
    return _download(actor, project_id, xml_form_id, options, "csv", tuning)


def xlsx(
    actor: Actor, project_id: int, xml_form_id: str, options: Options, tuning: Tuning = Tuning()
) -> Download:
    """Every table as a sheet of one workbook: numbers as numbers, dates as dates."""
    return _download(actor, project_id, xml_form_id, options, "xlsx", tuning)


# Each format: its type, the file name's ending, and the writer that streams it.
_FORMATS: dict[str, tuple[str, str, Callable[[Plan, Tuning], Iterator[bytes]]]] = {
    "csv.zip": (ZIP, ".zip", zip_archive.zip_chunks),
    "csv": (CSV, ".csv", csv_table.csv_chunks),
    "xlsx": (XLSX, ".xlsx", xlsx_book.xlsx_chunks),
}


def _download(
    actor: Actor, project_id: int, xml_form_id: str, options: Options, fmt: str, tuning: Tuning
) -> Download:
    mimetype, ending, write = _FORMATS[fmt]
    plan = _prepare(actor, project_id, xml_form_id, options, fmt, root_only=fmt == "csv")
    root = plan.layout.tables[0].name
    return Download(f"{root}{ending}", mimetype, write(plan, tuning), plan.layout.withheld)


# Preparing: access, fields, layout, filters, audit ---------------------------------------------


def _prepare(
    actor: Actor,
    project_id: int,
    xml_form_id: str,
    options: Options,
    fmt: str,
    *,
    root_only: bool,
) -> Plan:
    form = forms.get(actor, project_id, xml_form_id)
    access.require(actor, "submission.read", project_id)
    rule = disclosures.of(actor, form)
    if options.sensitive and not rule.sees_sensitive:
        raise Forbidden(
            "Only project managers may export sensitive questions (sensitive=include); "
            "leave the option out to export everything else."
        )
    # Nobody gets sensitive answers without asking: a file passed on should not carry them.
    shown = rule if options.sensitive else rule.without_sensitive()
    defs = forms.published(form)
    if not defs:
        raise NotFound("The form is not published yet, so it has no submissions to export.")
    versions = [form_fields.of(d) for d in defs]
    fields = (
        tables.merge_versions(versions)
        if options.deleted_fields
        else tables.current_fields(versions)
    )
    language = None
    if options.labels:
        languages = list(dict.fromkeys(lang for d in reversed(defs) for lang in d.languages))
        language = tables.resolve_language(options.labels, languages)
    layout = tables.layout(
        form.xml_form_id,
        fields,
        tables.Options(
            group_paths=options.group_paths,
            split_select_multiples=options.split_select_multiples,
            language=language,
            root_only=root_only,
        ),
        shown,
    )
    plan = Plan(
        form_id=form.id,
        layout=layout,
        where=_where(options),
        versions={d.id: d.version for d in defs},
        options=options,
        shown=shown,
    )
    audits.log(
        actor,
        "form.submission.export",
        f"form:{form.id}",
        xmlFormId=form.xml_form_id,
        format=fmt,
        options=_query(options),
        withheld=layout.withheld,
    )
    db.session.commit()
    return plan


def _query(options: Options) -> dict[str, Any]:
    """The options as the query parameters that asked for them, for the audit log."""
    return {
        "attachments": options.attachments,
        "groupPaths": options.group_paths,
        "splitSelectMultiples": options.split_select_multiples,
        "deletedFields": options.deleted_fields,
        "labels": options.labels,
        "$filter": options.filter,
        "from": options.since,
        "to": options.until,
        "rejected": "include" if options.rejected else None,
        "sensitive": "include" if options.sensitive else None,
        "formulas": "raw" if options.formulas_raw else None,
    }


def _where(options: Options) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    mentions_review = False
    if options.filter:
        clause, mentions_review = records.parse_filter(options.filter)
        where.append(clause)
    if options.since:
        start, _ = records.moment(options.since, "from")
        where.append(Submission.created_at >= start)
    if options.until:
        end, whole_day = records.moment(options.until, "to")
        if whole_day:
            where.append(Submission.created_at < end + timedelta(days=1))
        else:
            where.append(Submission.created_at <= end)
    if not options.rejected and not mentions_review:
        where.append(or_(Submission.review_state.is_(None), Submission.review_state != "rejected"))
    return where
