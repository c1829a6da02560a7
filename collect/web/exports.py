"""Exports under /v1: Central's submissions.csv.zip and submissions.csv, plus submissions.xlsx."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request, stream_with_context

from collect.domain import exports
from collect.domain.people import access
from collect.errors import BadRequest
from collect.web.auth import current_actor

bp = Blueprint("exports", __name__)
BASE = "/projects/<int:pid>/forms/<xml_form_id>/submissions"
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@bp.get(f"{BASE}.csv.zip")
def csv_zip(pid: int, xml_form_id: str) -> Response:
    """The root table, one CSV per repeat and the media files, in one ZIP (as Central)."""
    return _send(exports.csv_zip(_actor(), pid, xml_form_id, _options(), _tuning()))


@bp.get(f"{BASE}.csv")
def csv_root(pid: int, xml_form_id: str) -> Response:
    """The root table alone, as CSV."""
    return _send(exports.csv_root(_actor(), pid, xml_form_id, _options(), _tuning()))


@bp.get(f"{BASE}.xlsx")
def xlsx(pid: int, xml_form_id: str) -> Response:
    """Every table as a sheet of one workbook."""
    return _send(exports.xlsx(_actor(), pid, xml_form_id, _options(), _tuning()))


def _actor() -> Any:
    actor = current_actor()
    access.require_user(actor)
    return actor


def _flag(name: str, default: bool) -> bool:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise BadRequest(f"'{name}' is true or false, not '{value}'.")


def _choice(name: str, allowed: tuple[str, ...]) -> bool:
    value = request.args.get(name, "")
    if value and value not in allowed:
        raise BadRequest(f"'{name}' can only be '{allowed[0]}', not '{value}'.")
    return bool(value)


def _options() -> exports.Options:
    args = request.args
    return exports.Options(
        attachments=_flag("attachments", True),
        group_paths=_flag("groupPaths", True),
        split_select_multiples=_flag("splitSelectMultiples", False),
        deleted_fields=_flag("deletedFields", False),
        labels=args.get("labels") or None,
        filter=args.get("$filter") or None,
        since=args.get("from") or None,
        until=args.get("to") or None,
        rejected=_choice("rejected", ("include", "true")),
        sensitive=_choice("sensitive", ("include",)),
        formulas_raw=_choice("formulas", ("raw",)),
    )


def _tuning() -> exports.Tuning:
    config = current_app.config
    default = exports.Tuning()
    return exports.Tuning(
        batch=int(config.get("EXPORT_BATCH_ROWS", default.batch)),
        chunk=int(config.get("EXPORT_CHUNK_BYTES", default.chunk)),
        compresslevel=int(config.get("EXPORT_COMPRESSLEVEL", default.compresslevel)),
    )


def _send(download: exports.Download) -> Response:
    fallback = download.filename.encode("ascii", "replace").decode().replace('"', "_")
    headers = {
        "Content-Disposition": (
            f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(download.filename)}"
        ),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if download.withheld:
        # A plain CSV has no room for a note, so the withheld columns are named here too.
        headers["X-Withheld-Columns"] = ", ".join(quote(c, safe=" .:") for c in download.withheld)
    return Response(
        stream_with_context(download.chunks), content_type=download.mimetype, headers=headers
    )
