"""Errors as the JSON API renders them: every `/v1` route, in ODK Central's shape, from here.

A `CollectError` becomes `{"code": 404.1, "message": "...", "details": {...}}` with its HTTP
status. OpenRosa (`openrosa.py`, XML that ODK Collect shows) and the pages (`pages/views.py`,
HTML) are other protocols and render errors raised in their blueprints themselves; this
module is also the fallback for what no blueprint renders: routing errors, and crashes.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from collect.errors import CollectError, InvalidBody, ServerError
from collect.web import pages

Json = tuple[dict[str, Any], int] | tuple[dict[str, Any], int, dict[str, str]]

_JSON_MESSAGES = {
    404: "Could not find the resource you were looking for.",
    405: "This URL does not accept that method.",
    413: "The request is larger than the server accepts.",
}
_PAGE_MESSAGES = {
    404: "There is no page at this address. Check the link, or start again from your projects.",
    405: "This page cannot be used that way. Go back and use the buttons on the page.",
    413: "The file is larger than the server accepts. Send a smaller file.",
}


def init_app(app: Flask) -> None:
    """Register the app-wide handlers (blueprint handlers of other protocols come first)."""
    app.register_error_handler(CollectError, json_error)
    app.register_error_handler(ValidationError, invalid_body)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)


def json_error(e: CollectError) -> Json:
    """Central's error shape: a numeric code and a sentence, plus details when there are some."""
    body: dict[str, Any] = {"code": e.code, "message": e.message}
    if e.details:
        body["details"] = e.details
    if e.retry_after is not None:
        return body, e.status, {"Retry-After": str(e.retry_after)}
    return body, e.status


def invalid_body(e: ValidationError) -> Json:
    """A JSON body that does not fit its schema, with every field's problem."""
    details = e.messages if isinstance(e.messages, dict) else {"body": e.messages}
    fields = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in details.items())
    return json_error(InvalidBody(f"The request body is not valid. {fields}", details=details))


def http_error(e: HTTPException) -> WerkzeugResponse | Json:
    """Routing errors (404, 405, 413): JSON for the API, a page for a browser."""
    status = e.code or 500
    if request.path.startswith("/v1/") or request.accept_mimetypes.best == "application/json":
        return {"code": float(status), "message": _JSON_MESSAGES.get(status, e.description)}, status
    return pages.error_page(status, _PAGE_MESSAGES.get(status, e.description or "Error."))


def unexpected(e: Exception) -> Json:
    """A crash: logged with its traceback; the client hears only that it was logged."""
    current_app.logger.exception("Unexpected error on %s %s", request.method, request.path)
    return json_error(ServerError("Something went wrong on the server; the error was logged."))
