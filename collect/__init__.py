"""collect: an ODK-compatible survey server with evaluation reports for human-rights programmes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from collect import config as settings
from collect.storage.db import db, migrate
from collect.web import (
    api,
    errors,
    evaluation,
    exports,
    odata,
    openrosa,
    pages,
    routing,
    submissions,
    webforms,
)
from collect.web.cookies import NoFlaskSession


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
    # The JSON API (Central's paths) under /v1, ODK Collect's OpenRosa routes, the pages.
    app.register_blueprint(api.bp, url_prefix="/v1")
    app.register_blueprint(openrosa.bp)
    app.register_blueprint(submissions.bp, url_prefix="/v1")
    app.register_blueprint(exports.bp, url_prefix="/v1")
    app.register_blueprint(odata.bp, url_prefix="/v1")
    app.register_blueprint(evaluation.bp, url_prefix="/v1")
    app.register_blueprint(pages.bp)
    app.register_blueprint(webforms.bp)
    errors.init_app(app)
    logging.getLogger("collect").setLevel(logging.INFO)
    return app
