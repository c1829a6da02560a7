"""The web pages (HTML) for admins and evaluators: sign in, projects, app users, forms.

Every view reads the request, calls one function of the domain (or of pages_data, which
gathers what a page shows from the domain's read functions) and renders a template. POST forms
carry the session's CSRF token (checked before any view runs) and answer with a redirect, so
a reload never repeats an action. Errors become a page with a sentence and a way forward.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from collect.domain import forms, submissions
from collect.domain.forms import xlsform
from collect.domain.people import app_users, projects
from collect.errors import BadRequest, CollectError, InvalidForm, Unauthorized
from collect.web import cookies
from collect.web.auth import sign_in_client
from collect.web.pages import data as pages_data
from collect.web.pages import evaluation as pages_evaluation
from collect.web.pages import submissions as pages_submissions
from collect.web.responses import base_url

bp = Blueprint("pages", __name__)

# Files up to this size are sent back in the page after a failed upload, so the next attempt
# (with warnings accepted, or after publishing a baseline form) needs no new file.
KEEP_LIMIT = 1024 * 1024
UPLOAD_TYPES = {".xlsx": xlsform.XLSX, ".xls": xlsform.XLS, ".xml": "application/xml"}
NOTICES = {
    "signed-out": "You are signed out.",
    "project-created": "The project was created. Upload its first form below.",
    "member-added": "The user was added to the project.",
    "member-removed": "The user no longer has that role in the project.",
    "app-user-created": "The app user was created. Scan its QR code with ODK Collect.",
    "app-user-revoked": "The app user was revoked: its phone can no longer download or send.",
    "form-assigned": "The form was assigned: the phone sees it at its next form update.",
    "form-unassigned": "The form was taken away from this app user.",
    "draft-created": "The draft was saved. Add its media files, if any, then publish it.",
    "media-uploaded": "The media file was uploaded.",
    "published": "The form was published: phones get this version at their next update.",
    "state-changed": "The form's state was changed.",
    "user-created": "The user was created. Add them to a project as manager or viewer.",
    "reviewed": "The review was saved.",
    "min-cell-changed": "The suppression threshold was changed.",
}


# Hooks and error pages --------------------------------------------------------------------------


@bp.before_request
def check_csrf() -> None:
    """Every POST must come from one of our pages: its hidden field holds the CSRF token."""
    if request.method != "POST":
        return
    if request.endpoint == "pages.login":
        cookies.check_login_csrf()
        return
    if cookies.session() is None:
        raise Unauthorized("Your session has ended: sign in again.")
    cookies.check_form_csrf()


@bp.after_request
def page_headers(response: Response) -> Response:
    cookies.set_login_csrf(response)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.context_processor
def page_context() -> dict[str, Any]:
    return {
        "me": cookies.actor(),
        "csrf_token": cookies.csrf_token,
        "notice": NOTICES.get(request.args.get("notice", "")),
        "when": when,
        "review_labels": pages_submissions.REVIEW_LABELS,
        "submissions_available": True,
        "evaluation_available": True,
    }


@bp.errorhandler(CollectError)
def page_error(e: CollectError) -> Response:
    if request.endpoint == "pages.login":
        page = _render("login.html", e.status, error=e.message, email=request.form.get("email"))
        if e.retry_after is not None:
            page.headers["Retry-After"] = str(e.retry_after)
        return page
    if isinstance(e, Unauthorized):
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for(".login_form", next=_local(target)))  # type: ignore[return-value]
    if request.endpoint in UPLOAD_PAGES and e.status in (400, 409, 413):
        return _upload_failed(e)
    return error_page(e.status, e.message)


@bp.errorhandler(HTTPException)
def page_http_error(e: HTTPException) -> Response:
    status = e.code or 500
    if status == 413 and request.endpoint in UPLOAD_PAGES:
        return _upload_failed(BadRequest(_TOO_LARGE))
    return error_page(status, _HTTP_MESSAGES.get(status, e.description or "The request failed."))


@bp.errorhandler(Exception)
def page_crash(e: Exception) -> Response:
    current_app.logger.exception("Unexpected error on %s %s", request.method, request.path)
    return error_page(500, _HTTP_MESSAGES[500])


_TOO_LARGE = "The file is larger than the server accepts. Upload a smaller file."
_HTTP_MESSAGES = {
    404: "There is no page at this address. Check the link, or go back to your projects.",
    405: "This page cannot be used that way. Go back and use the buttons on the page.",
    413: _TOO_LARGE,
    500: "Something went wrong on the server; the error was logged. Try again, and if it "
    "happens again tell your administrator what you were doing.",
}
_TITLES = {
    400: "That did not work",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    409: "That conflicts with what is there",
    413: "Too large",
    429: "Too many attempts",
    500: "Server error",
}


def error_page(status: int, message: str) -> Response:
    """An error as a page: a title, the sentence, and links to go on from here."""
    return _render(
        "error.html", status, title=_TITLES.get(status, "That did not work"), message=message
    )


def _render(template: str, status: int = 200, **context: Any) -> Response:
    return Response(render_template(f"pages/{template}", **context), status=status)


def _redirect(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values), code=303)  # type: ignore[return-value]


def _actor() -> Any:
    return cookies.require_actor()


def _local(target: str | None) -> str | None:
    """Only paths on this site are followed after signing in (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return None
    return target.rstrip("?")


def when(value: Any) -> str:
    """A timestamp as people read it: 2026-05-01 14:03 UTC."""
    if value is None:
        return "never"
    text: str = value.strftime("%Y-%m-%d %H:%M")
    return text + " UTC"


# Signing in and out -----------------------------------------------------------------------------


@bp.get("/")
def index() -> Response:
    """Send people to their projects, or to the sign-in page."""
    if cookies.actor() is None:
        return _redirect(".login_form")
    return _redirect(".project_list")


@bp.get("/login")
def login_form() -> Response:
    """Show the sign-in form."""
    if cookies.actor() is not None:
        return _redirect(".project_list")
    return _render("login.html", next=_local(request.args.get("next")))


@bp.post("/login")
def login() -> Response:
    """Sign in with email and password; refused for a while after repeated failures."""
    email = request.form.get("email", "").strip()
    session, token = pages_data.sign_in(
        email,
        request.form.get("password", ""),
        hours=current_app.config["SESSION_HOURS"],
        client=sign_in_client(),
    )
    response = redirect(_local(request.form.get("next")) or url_for(".project_list"), code=303)
    cookies.remember(response, token, session)  # type: ignore[arg-type]
    cookies.remember_device(response, email)  # type: ignore[arg-type]
    return response  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    """End the session and forget the cookie."""
    pages_data.sign_out(cookies.token())
    response = _redirect(".login_form", notice="signed-out")
    cookies.forget(response)
    return response


# Users (site admins) ----------------------------------------------------------------------------


@bp.get("/users")
def user_list() -> Response:
    """Every web user, with a form to create one (site admins only)."""
    return _render("users.html", users=pages_data.users_page(_actor()))


@bp.post("/users")
def user_create() -> Response:
    """Create a web user who can then be given a role in a project."""
    pages_data.create_user(
        _actor(),
        request.form.get("email", ""),
        request.form.get("password", ""),
        display_name=request.form.get("display_name", "").strip() or None,
        is_admin=request.form.get("is_admin") == "yes",
    )
    return _redirect(".user_list", notice="user-created")


# Projects ---------------------------------------------------------------------------------------


@bp.get("/projects")
def project_list() -> Response:
    """The projects the user works in; admins can create one."""
    listed, can_create = pages_data.projects_page(_actor())
    return _render("projects.html", projects=listed, can_create=can_create)


@bp.post("/projects")
def project_create() -> Response:
    """Create a project (site admins)."""
    project = projects.create(
        _actor(),
        request.form.get("name", ""),
        request.form.get("description", "").strip() or None,
    )
    return _redirect(".project_page", pid=project.id, notice="project-created")


@bp.get("/projects/<int:pid>")
def project_page(pid: int) -> Response:
    """A project: its forms, members and app users."""
    return _render("project.html", page=pages_data.project_page(_actor(), pid))


@bp.post("/projects/<int:pid>/members")
def member_add(pid: int) -> Response:
    """Give a web user, found by email, the manager or viewer role."""
    pages_data.add_member(
        _actor(), pid, request.form.get("email", ""), request.form.get("role", "")
    )
    return _redirect(".project_page", pid=pid, notice="member-added", _anchor="members")


@bp.post("/projects/<int:pid>/members/<int:actor_id>/<role>/remove")
def member_remove(pid: int, actor_id: int, role: str) -> Response:
    """Take a role in the project away from a user."""
    projects.unassign(_actor(), pid, role, actor_id)
    return _redirect(".project_page", pid=pid, notice="member-removed", _anchor="members")


# App users --------------------------------------------------------------------------------------


@bp.post("/projects/<int:pid>/app-users")
def app_user_create(pid: int) -> Response:
    """Create an app user and show its QR code."""
    created = app_users.create(_actor(), pid, request.form.get("display_name", ""))
    return _redirect(".app_user_page", pid=pid, aid=created.actor_id, notice="app-user-created")


@bp.get("/projects/<int:pid>/app-users/<int:aid>")
def app_user_page(pid: int, aid: int) -> Response:
    """An app user's QR code for ODK Collect, and the forms it may fill in."""
    return _render("app_user.html", page=pages_data.app_user_page(_actor(), pid, aid, base_url()))


@bp.post("/projects/<int:pid>/app-users/<int:aid>/revoke")
def app_user_revoke(pid: int, aid: int) -> Response:
    """Revoke an app user: its token stops working at once."""
    app_users.revoke(_actor(), pid, aid)
    return _redirect(".project_page", pid=pid, notice="app-user-revoked", _anchor="app-users")


@bp.post("/projects/<int:pid>/app-users/<int:aid>/forms/<fid>")
def app_user_assign(pid: int, aid: int, fid: str) -> Response:
    """Let the app user download and fill in a form."""
    app_users.assign_form(_actor(), pid, fid, "app-user", aid)
    return _redirect(".app_user_page", pid=pid, aid=aid, notice="form-assigned", _anchor="forms")


@bp.post("/projects/<int:pid>/app-users/<int:aid>/forms/<fid>/remove")
def app_user_unassign(pid: int, aid: int, fid: str) -> Response:
    """Take a form away from the app user."""
    app_users.unassign_form(_actor(), pid, fid, aid)
    return _redirect(".app_user_page", pid=pid, aid=aid, notice="form-unassigned", _anchor="forms")


# Forms ------------------------------------------------------------------------------------------


@bp.get("/projects/<int:pid>/forms/new")
def form_new(pid: int) -> Response:
    """Choose an XLSForm to upload as a new form (managers)."""
    return _render("form_new.html", project=pages_data.upload_page(_actor(), pid))


@bp.post("/projects/<int:pid>/forms/new")
def form_upload(pid: int) -> Response:
    """Upload a new form: saved as a draft, or published at once when asked."""
    publish = request.form.get("publish") == "yes"
    form = forms.create(_actor(), pid, _upload(), publish=publish, validate_mode=_validate_mode())
    if publish:
        return _redirect(".form_page", pid=pid, fid=form.xml_form_id, notice="published")
    return _redirect(".draft_page", pid=pid, fid=form.xml_form_id, notice="draft-created")


@bp.get("/projects/<int:pid>/forms/<fid>")
def form_page(pid: int, fid: str) -> Response:
    """A form: state, counts, downloads and versions."""
    return _render("form.html", page=pages_data.form_page(_actor(), pid, fid))


@bp.post("/projects/<int:pid>/forms/<fid>/state")
def form_state(pid: int, fid: str) -> Response:
    """Open, close to new downloads (closing) or close a form."""
    forms.set_state(_actor(), pid, fid, request.form.get("state", ""))
    return _redirect(".form_page", pid=pid, fid=fid, notice="state-changed")


@bp.get("/projects/<int:pid>/forms/<fid>/draft")
def draft_page(pid: int, fid: str) -> Response:
    """The form's draft: its media files, publishing, and uploading a new version."""
    return _render("draft.html", page=pages_data.draft_page(_actor(), pid, fid))


@bp.post("/projects/<int:pid>/forms/<fid>/draft")
def draft_upload(pid: int, fid: str) -> Response:
    """Start a new draft from an uploaded file, or from the published version."""
    upload = None if request.form.get("from_published") == "yes" else _upload()
    forms.new_draft(_actor(), pid, fid, upload, validate_mode=_validate_mode())
    return _redirect(".draft_page", pid=pid, fid=fid, notice="draft-created")


@bp.post("/projects/<int:pid>/forms/<fid>/draft/media")
def draft_media(pid: int, fid: str) -> Response:
    """Add or replace one of the media files the draft expects."""
    name = forms.safe_name(request.form.get("name", ""))
    chosen = request.files.get("file")
    data = chosen.read() if chosen else b""
    if not data:
        raise BadRequest(f"Choose the file to upload as {name}.")
    content_type = mimetypes.guess_type(name)[0] or (chosen.mimetype if chosen else "")
    forms.attach(_actor(), pid, fid, name, data, content_type or "application/octet-stream")
    return _redirect(".draft_page", pid=pid, fid=fid, notice="media-uploaded", _anchor="media")


@bp.post("/projects/<int:pid>/forms/<fid>/draft/publish")
def draft_publish(pid: int, fid: str) -> Response:
    """Publish the draft, optionally under a new version string."""
    version = request.form.get("version", "").strip() or None
    forms.publish(_actor(), pid, fid, version)
    return _redirect(".form_page", pid=pid, fid=fid, notice="published")


# Submissions ------------------------------------------------------------------------------------


@bp.get("/projects/<int:pid>/forms/<fid>/submissions")
def submission_list(pid: int, fid: str) -> Response:
    """A form's submissions as a table: newest first, paged, filtered, labelled."""
    filters = pages_submissions.parse_filters(request.args)
    page = pages_submissions.table_page(_actor(), pid, fid, filters)
    return _render("submissions.html", page=page)


@bp.get("/projects/<int:pid>/forms/<fid>/submissions/<iid>")
def submission_page(pid: int, fid: str, iid: str) -> Response:
    """One submission in full: answers, files, versions, review and comments."""
    lang = request.args.get("lang") or None
    page = pages_submissions.detail_page(_actor(), pid, fid, iid, lang)
    return _render("submission.html", page=page)


@bp.post("/projects/<int:pid>/forms/<fid>/submissions/<iid>/review")
def submission_review(pid: int, fid: str, iid: str) -> Response:
    """Set the review state, with an optional comment."""
    state = request.form.get("state", "")
    comment = request.form.get("comment", "")
    submissions.review(_actor(), pid, fid, iid, state or None, comment)
    return _redirect(".submission_page", pid=pid, fid=fid, iid=iid, notice="reviewed")


# Evaluation report ------------------------------------------------------------------------------


@bp.get("/projects/<int:pid>/evaluation")
def evaluation_page(pid: int) -> Response:
    """The evaluation report: participation and impact tables with bar charts."""
    since = pages_evaluation.day(request.args.get("from"), "start")
    until = pages_evaluation.day(request.args.get("to"), "end")
    lang = request.args.get("lang") or None
    page = pages_evaluation.page(_actor(), pid, since, until, lang)
    return _render("evaluation.html", page=page)


@bp.post("/projects/<int:pid>/evaluation/min-cell")
def evaluation_min_cell(pid: int) -> Response:
    """Set the smallest number of people a published cell may count (managers)."""
    try:
        min_cell = int(request.form.get("min_cell", ""))
    except ValueError:
        raise BadRequest(
            "The threshold must be a whole number, 0 to turn suppression off."
        ) from None
    projects.update(_actor(), pid, min_cell=min_cell)
    return _redirect(".evaluation_page", pid=pid, notice="min-cell-changed", _anchor="suppression")


UPLOAD_PAGES = frozenset({"pages.form_upload", "pages.draft_upload", "pages.draft_media"})


def _validate_mode() -> str:
    return str(current_app.config["ODK_VALIDATE"])


def _upload() -> forms.Upload:
    """The chosen workbook, or the one the previous failed attempt sent back in the page."""
    ignore = request.form.get("ignore_warnings") == "yes"
    chosen = request.files.get("file")
    body = chosen.read() if chosen and chosen.filename else b""
    name = (chosen.filename or "") if chosen else ""
    if not body and request.form.get("kept"):
        try:
            body = base64.b64decode(request.form["kept"], validate=True)
        except (binascii.Error, ValueError) as e:
            raise BadRequest("The kept file was damaged: choose the file again.") from e
        name = request.form.get("kept_name", "")
    if not body:
        raise BadRequest("Choose the XLSForm file (.xlsx or .xls) to upload.")
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    content_type = UPLOAD_TYPES.get(suffix) or (chosen.mimetype if chosen else "") or ""
    g.kept = (name, body) if len(body) <= KEEP_LIMIT else None
    return forms.Upload(body=body, content_type=content_type, ignore_warnings=ignore)


def _upload_failed(e: CollectError) -> Response:
    """Show the upload page again with what to fix; the file comes back in a hidden field."""
    kept = g.get("kept")
    context: dict[str, Any] = {
        "error": e,
        "headline": _headline(e),
        "problems": e.problems if isinstance(e, InvalidForm) else [],
        "kept_name": kept[0] if kept else None,
        "kept": base64.b64encode(kept[1]).decode("ascii") if kept else None,
        "warnings": isinstance(e, InvalidForm) and e.warnings_only,
        "ignore_warnings": request.form.get("ignore_warnings") == "yes",
    }
    args = request.view_args or {}
    actor = _actor()
    if request.endpoint == "pages.form_upload":
        project = pages_data.upload_page(actor, args["pid"])
        return _render("form_new.html", e.status, project=project, **context)
    page = pages_data.draft_page(actor, args["pid"], args["fid"])
    return _render("draft.html", e.status, page=page, **context)


def _headline(e: CollectError) -> str:
    """The error's own sentence, without the list of problems the page shows by itself."""
    if not isinstance(e, InvalidForm):
        return e.message
    if e.warnings_only:
        return (
            "The form converted with warnings. Fix them, or tick “Accept the warnings” and "
            "upload again."
        )
    return e.headline
