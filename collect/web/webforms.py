"""Web forms in the browser (ODK Web Forms): the built bundle, its service worker, the pages.

The bundle is built at set-up (`collect assets build`, see collect/assets.py) and served here:
files whose names carry a content hash are cached for a year, the service worker is revalidated
on every visit. A page names its form by URLs in data attributes (assets/src/page.js reads
them). Its Content-Security-Policy allows nothing from another origin; Web Forms needs three
allowances, each for a reason given in WEBFORM_CSP.
"""

from __future__ import annotations

import json
import mimetypes
import os.path
from dataclasses import dataclass
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.security import safe_join

from collect import assets
from collect.domain import forms
from collect.domain.people import access
from collect.errors import CollectError, Unauthorized
from collect.storage.models import Actor, Form, FormDef
from collect.web import cookies, pages

bp = Blueprint("webforms", __name__)

WORKER_PATH = "/webforms/sw.js"
YEAR = 365 * 24 * 3600
WEBFORM_CSP = "; ".join(
    (
        "default-src 'self'",
        # The XPath engine is WebAssembly (tree-sitter); compiling it needs wasm-unsafe-eval,
        # which allows WebAssembly only, not eval() of JavaScript.
        "script-src 'self' 'wasm-unsafe-eval'",
        # Web Forms and PrimeVue insert <style> elements at run time.
        "style-src 'self' 'unsafe-inline'",
        # Photos taken in the form, and form media, are shown from blob: URLs; icons are data:.
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        # The photo resizer (pica) starts its workers from a data: URL of its own code; a page
        # must already run a script of ours to start one, so this opens nothing to others.
        "worker-src 'self' blob: data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
_TYPES = {".js": "text/javascript", ".css": "text/css", ".woff2": "font/woff2"}


@bp.after_request
def webform_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", WEBFORM_CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.errorhandler(CollectError)
def webform_error(e: CollectError) -> Response:
    if isinstance(e, Unauthorized):
        # Sign in, then come back to the form.
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("pages.login_form", next=target))  # type: ignore[return-value]
    return pages.error_page(e.status, e.message)


@bp.errorhandler(HTTPException)
def webform_http_error(e: HTTPException) -> Response:
    return pages.page_http_error(e)


# The bundle -------------------------------------------------------------------------------------


@bp.get("/webforms/static/<path:name>")
def bundle_file(name: str) -> Response:
    """A file of the built bundle (precompressed when the browser accepts it)."""
    return _built_file("static", name, cache=f"public, max-age={YEAR}, immutable")


@bp.get(WORKER_PATH)
def service_worker() -> Response:
    """The service worker; it may control pages anywhere on the site (each registers its own)."""
    response = _built_file(".", "sw.js", cache="no-cache")
    response.headers["Service-Worker-Allowed"] = "/"
    return response


def _bundle_dir() -> Path:
    return Path(current_app.config["WEBFORMS_DIR"] or assets.OUTPUT_DIR)


def _built_file(folder: str, name: str, *, cache: str) -> Response:
    # safe_join refuses names that climb out of the folder (.., absolute paths).
    path = safe_join(str(_bundle_dir() / folder), name)
    if path is None or not name or name.endswith((".gz", ".br")):
        abort(404)
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    mimetype = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    accepted = request.accept_encodings
    for encoding, extension in (("br", ".br"), ("gzip", ".gz")):
        if accepted[encoding] and os.path.isfile(path + extension):
            response = _file_response(path + extension, mimetype, cache)
            response.headers["Content-Encoding"] = encoding
            response.vary.add("Accept-Encoding")
            return response
    if not os.path.isfile(path):
        abort(404)
    response = _file_response(path, mimetype, cache)
    response.vary.add("Accept-Encoding")
    return response


def _file_response(path: str, mimetype: str, cache: str) -> Response:
    with open(path, "rb") as f:
        body = f.read()
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = cache
    return response


# The preview ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    form: Form
    definition: FormDef
    draft: bool
    name: str
    media: list[str]


def preview_of(actor: Actor, project_id: int, xml_form_id: str, draft: bool) -> Preview:
    """The version a preview shows: the draft (managers) or the published one."""
    form = forms.get(actor, project_id, xml_form_id)
    if form.current_def is None:
        draft = True
    if draft:
        access.require(actor, "form.update", project_id)
    definition = forms.definition(actor, project_id, xml_form_id, draft=draft)
    return Preview(
        form=form,
        definition=definition,
        draft=draft,
        name=definition.name or xml_form_id,
        media=[a.name for a in definition.attachments if a.blob_id is not None],
    )


@bp.get("/projects/<int:pid>/forms/<fid>/preview")
def preview(pid: int, fid: str) -> Response:
    """Fill the form as a respondent would, without sending anything (?draft=true: the draft)."""
    actor = cookies.require_actor()
    shown = preview_of(actor, pid, fid, request.args.get("draft", "").lower() in ("1", "true"))
    built = assets.bundle(_bundle_dir())
    if built is None:
        return pages.error_page(503, assets.missing_message())
    if shown.draft:
        form_url = url_for("api.draft_xml", pid=pid, xml_form_id=fid)
        media_base = url_for("api.draft_attachment", pid=pid, xml_form_id=fid, name="x")
    else:
        form_url = url_for("api.form_xml", pid=pid, xml_form_id=fid)
        media_base = url_for("api.get_attachment", pid=pid, xml_form_id=fid, name="x")
    config: dict[str, str] = {
        "form-url": form_url,
        "attachments-url": media_base[: -len("x")],
        "media": json.dumps(shown.media),
        "submission-url": "",
        "language": request.args.get("lang", ""),
        # A draft may still miss media files: preview it anyway, with blanks in their place.
        "missing-resources": "BLANK",
        "sw-url": WORKER_PATH,
        "sw-scope": url_for(".preview", pid=pid, fid=fid),
    }
    page = render_template(
        "webforms/page.html",
        bundle=built,
        title=f"Preview of {shown.name}",
        preview=shown,
        back=url_for("pages.draft_page" if shown.draft else "pages.form_page", pid=pid, fid=fid),
        config=config,
    )
    response = Response(page)
    response.headers["Cache-Control"] = "no-store"
    return response
