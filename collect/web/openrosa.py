"""ODK Collect's OpenRosa endpoints under an app user's URL: form list, downloads, submissions.

Collect is configured with `<base>/v1/key/{token}/projects/{pid}` (the app user's QR code) and
appends `/formList` and `/submission` itself; every other URL it follows is one we emitted, so
those are absolute and keep the token prefix. Every answer, errors included, carries the
OpenRosa headers, and every error is an <OpenRosaResponse> whose message Collect shows to the
enumerator. Collect appends `?deviceID=...` to every URL; it is recorded on submissions and
ignored elsewhere.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from urllib.parse import quote

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from collect.domain import submissions
from collect.domain.people import app_users
from collect.errors import CollectError, InvalidSubmission, NotFound
from collect.storage import blobs
from collect.web import form_parts
from collect.web.responses import base_url

bp = Blueprint("openrosa", __name__)
PREFIX = "/v1/key/<token>/projects/<int:pid>"
XML_PART = "xml_submission_file"
MB = 1024 * 1024
FRAMING = MB


@bp.after_request
def openrosa_headers(response: Response) -> Response:
    # Collect refuses a form list or manifest without X-OpenRosa-Version, and reads the size
    # limit it splits large submissions by from the pre-flight HEAD.
    response.headers["X-OpenRosa-Version"] = "1.0"
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(_limit())
    return response


@bp.errorhandler(CollectError)
def openrosa_error(e: CollectError) -> Response:
    return _message(e.message, e.status, nature="error")


@bp.errorhandler(HTTPException)
def http_error(e: HTTPException) -> Response:
    status = e.code or 500
    messages = {
        405: "This address does not accept that kind of request.",
        413: f"The form and its files are larger than the server accepts in one send "
        f"({_limit() // MB} MB). Ask your coordinator to raise the limit.",
    }
    default = f"The server could not read what the phone sent: {e.description}"
    return _message(messages.get(status, default), status, nature="error")


@bp.errorhandler(Exception)
def unexpected(e: Exception) -> Response:
    current_app.logger.exception("Unexpected error on %s %s", request.method, request.path)
    return _message(
        "The server had a problem. Send the form again later: sending it twice is safe.",
        500,
        nature="error",
    )


# Forms ------------------------------------------------------------------------------------------


@bp.get(f"{PREFIX}/formList")
def form_list(token: str, pid: int) -> Response:
    """The forms this phone may download (only the one named by `formID` when given)."""
    device = submissions.device(token, pid)
    offered = submissions.offered(device, request.args.get("formID") or None)
    entries = [(form, _form_url(device, form.xml_form_id)) for form in offered]
    return _xml(render_template("openrosa/form_list.xml", forms=entries))


@bp.get(f"{PREFIX}/forms/<xml_form_id>.xml")
def form_xml(token: str, pid: int, xml_form_id: str) -> Response:
    """The XForm, byte for byte what the form list's hash was computed from."""
    definition = submissions.offered_definition(submissions.device(token, pid), xml_form_id)
    return _download([definition.xml], "text/xml", definition.md5, len(definition.xml))


@bp.get(f"{PREFIX}/forms/<xml_form_id>/manifest")
def manifest(token: str, pid: int, xml_form_id: str) -> Response:
    """The form's media files, with their hashes and download URLs."""
    device = submissions.device(token, pid)
    definition = submissions.offered_definition(device, xml_form_id)
    url = _form_url(device, xml_form_id)
    files = [
        (name, md5, f"{url}/attachments/{quote(name, safe='')}")
        for name, md5 in submissions.media_files(definition)
    ]
    return _xml(render_template("openrosa/manifest.xml", files=files))


@bp.get(f"{PREFIX}/forms/<xml_form_id>/attachments/<name>")
def media_file(token: str, pid: int, xml_form_id: str, name: str) -> Response:
    """One media file of a form."""
    blob = submissions.media(submissions.device(token, pid), xml_form_id, name)
    return _download(blobs.stream(blob), blob.content_type, blob.md5, blob.size)


# Submissions ------------------------------------------------------------------------------------


@bp.route(f"{PREFIX}/submission", methods=["GET", "HEAD"])
def preflight(token: str, pid: int) -> Response:
    """Collect's pre-flight: 204 (it accepts no other 2xx) with the size limit in the headers."""
    submissions.device(token, pid)
    return Response(status=204, mimetype="text/xml")


@bp.post(f"{PREFIX}/submission")
def submit(token: str, pid: int) -> Response:
    """Store a filled form: the `xml_submission_file` part and the files it refers to."""
    try:
        xml, files = _read_post()
    except CollectError:
        submissions.device(token, pid)  # a phone that may not send at all hears that first
        raise
    try:
        received = submissions.receive(
            token,
            pid,
            xml,
            [submissions.File(f.name, f.content_type, f.read, f.stream) for f in files],
            device_id=request.args.get("deviceID"),
            user_agent=request.headers.get("User-Agent"),
        )
    finally:
        for f in files:
            f.close()
    return _xml(_acknowledgement(received.complete), 201)


ANY = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


@bp.route(f"{PREFIX}/<path:rest>", methods=ANY)
@bp.route("/v1/key/<token>/<path:rest>", methods=ANY)
@bp.route("/v1/key/<token>", methods=ANY)
def unknown(token: str, rest: str = "", pid: int | None = None) -> Response:
    """Anything else under a device's URL: an OpenRosa 404 Collect can show."""
    raise NotFound(
        "This address is not part of the server's ODK Collect interface. Check the server URL "
        "in Collect's settings, or scan the project's QR code again."
    )


# Helpers ----------------------------------------------------------------------------------------


def _limit() -> int:
    return int(current_app.config["MAX_SUBMISSION_BYTES"])


def _read_post() -> tuple[bytes, list[form_parts.Part]]:
    """The submission's XML and its other parts (Collect names each file part after the file)."""
    limit = int(current_app.config["MAX_XML_BYTES"])
    too_large = (
        f"The form's XML is larger than the server accepts ({limit // MB} MB). Ask your "
        "coordinator to raise the limit."
    )
    # Collect splits by the sum of its files' sizes (OkHttpConnection), not counting the
    # multipart framing around up to 101 parts, so a body may pass the advertised limit a little.
    request.max_content_length = _limit() + FRAMING
    boundary = form_parts.boundary_of(request.content_type or "")
    if boundary is not None:
        parts = form_parts.read_parts(
            request.stream.read, boundary, request.content_length, {XML_PART: (limit, too_large)}
        )
        xml = parts.pop(XML_PART, None)
        if xml is not None:
            data = xml.read()
            xml.close()
            return data, list(parts.values())
        for part in parts.values():
            part.close()
    elif request.mimetype == "application/x-www-form-urlencoded":
        # Some clients send the XML as a plain field; allow it the XML's limit.
        request.max_form_memory_size = limit
        if XML_PART in request.form:
            return request.form[XML_PART].encode("utf-8"), []
    raise InvalidSubmission(
        f"The phone sent no form: the request has no '{XML_PART}' part. Update the app "
        "that sends the form."
    )


def _form_url(device: submissions.Device, xml_form_id: str) -> str:
    server = app_users.server_url(base_url(), device)
    return f"{server}/forms/{quote(xml_form_id, safe='')}"


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


def _message(text: str, status: int, *, nature: str) -> Response:
    return _xml(_rendered(text, nature), status)


def _rendered(text: str, nature: str) -> str:
    return render_template("openrosa/response.xml", message=text, nature=nature)


@functools.cache
def _acknowledgement(complete: bool) -> str:
    """The answer to a stored POST, rendered once per worker: it is always the same."""
    # Collect shows this sentence; a split upload's earlier parts are partial.
    extent = "full" if complete else "partial"
    return _rendered(f"{extent} submission upload was successful!", "submit_success")


def _download(body: Iterable[bytes], mimetype: str, md5: str, size: int) -> Response:
    # The ETag lets Collect's HTTP cache revalidate a form or a photo instead of fetching it.
    response = Response(body, mimetype=mimetype)
    response.content_length = size
    response.set_etag(md5)
    response.headers["Cache-Control"] = "private, no-cache"
    response.make_conditional(request)
    return response
