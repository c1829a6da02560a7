"""collect: an ODK-compatible survey server with evaluation reports for human-rights programmes."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response as WerkzeugResponse

from collect import config as settings
from collect.errors import CollectError
from collect.storage.db import db, migrate
from collect.web import routing
from collect.web.cookies import NoFlaskSession

# Blueprints that exist are registered; each module defines `bp` and, optionally, `URL_PREFIX`.
BLUEPRINTS = (
    ("collect.web.api", "/v1"),
    ("collect.web.openrosa", None),
    ("collect.web.submissions", "/v1"),
    ("collect.web.exports", "/v1"),
    ("collect.web.odata", "/v1"),
    ("collect.web.evaluation", "/v1"),
    ("collect.web.pages", None),
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the collect app; `config` overrides defaults and COLLECT_* environment variables."""
    app = Flask(__name__)
    app.config.update(settings.load(config))
    if app.config["TRUST_PROXY"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[method-assign]
    app.session_interface = NoFlaskSession()
    routing.init_app(app)  # before the blueprints: it sets the URL converters their routes use
    db.init_app(app)
    migrate.init_app(app, db, directory=str(settings.MIGRATIONS_DIR))
    for module_name, prefix in BLUEPRINTS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name != module_name:
                raise
            continue
        app.register_blueprint(module.bp, url_prefix=prefix)
    _register_errors(app)
    _wire_domain()
    logging.getLogger("collect").setLevel(logging.INFO)
    return app


def _wire_domain() -> None:
    try:
        evaluation = importlib.import_module("collect.domain.evaluation")
    except ModuleNotFoundError:
        return
    evaluation.wire()


_PAGE_MESSAGES = {
    404: "There is no page at this address. Check the link, or start again from your projects.",
    405: "This page cannot be used that way. Go back and use the buttons on the page.",
    413: "The file is larger than the server accepts. Send a smaller file.",
}


def _register_errors(app: Flask) -> None:
    """App-level fallbacks: routing errors and anything a blueprint did not render itself."""

    def wants_json() -> bool:
        return (
            request.path.startswith("/v1/") or request.accept_mimetypes.best == "application/json"
        )

    @app.errorhandler(CollectError)
    def collect_error(e: CollectError) -> tuple[dict[str, Any], int]:
        body: dict[str, Any] = {"code": e.code, "message": e.message}
        if e.details:
            body["details"] = e.details
        return body, e.status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> WerkzeugResponse | tuple[dict[str, Any], int]:
        status = e.code or 500
        if wants_json():
            messages = {
                404: "Could not find the resource you were looking for.",
                405: "This URL does not accept that method.",
                413: "The request is larger than the server accepts.",
            }
            return {"code": float(status), "message": messages.get(status, e.description)}, status
        from collect.web import pages

        return pages.error_page(status, _PAGE_MESSAGES.get(status, e.description or "Error."))

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> tuple[dict[str, Any], int]:
        app.logger.exception("Unexpected error on %s %s", request.method, request.path)
        return {
            "code": 500.1,
            "message": "Something went wrong on the server; the error was logged.",
        }, 500
