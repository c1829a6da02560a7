"""Setting up data for a live server (tests/live.py) in-process, on its database and blobs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from collect import create_app
from collect.domain.people import users
from collect.storage.db import db
from tests import pgcluster
from tests.helpers import sign_in
from tests.live import Server
from tests.openrosa import samples

ADMIN = ("live-admin@example.org", "correct horse battery")


@dataclass
class Site:
    """A project with a published form and an app user assigned to it."""

    app: Flask
    project: int
    form_id: str
    token: str

    def server_url(self, base: str) -> str:
        return f"{base}/v1/key/{self.token}/projects/{self.project}"


@contextmanager
def serving(
    request: pytest.FixtureRequest, folder: Path, name: str, *, workers: int
) -> Iterator[tuple[Server, Site]]:
    """A live server on the backend `request.param` names, with the household form set up."""
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'collect.db'}"
    else:
        url = pgcluster.create_database(
            request.getfixturevalue("postgres_url"),
            f"collect_{name}_{request.getfixturevalue('worker_id')}",
        )
    server = Server(url, folder, workers=workers)
    server.start()  # migrates the empty database, then serves
    app = local_app(url, folder)
    try:
        yield server, set_up(app, samples.household_xml())
    finally:
        server.stop()
        dispose(app)


def local_app(database_url: str, data_dir: Path) -> Flask:
    """An in-process app on the server's database and blob folder."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "DATA_DIR": str(data_dir),
            "ODK_VALIDATE": "never",
            "TESTING": True,
        }
    )


def set_up(app: Flask, form_xml: bytes, *, media: dict[str, bytes] | None = None) -> Site:
    """Create an admin, a project, the form (published) and an app user assigned to it."""
    with app.app_context():
        users.create(*ADMIN, is_admin=True)
    admin = sign_in(app.test_client(), *ADMIN)
    project = _ok(admin.post("/v1/projects", json={"name": "Live"}))["id"]
    xml = {"Content-Type": "application/xml"}
    form_id = _ok(
        admin.post(f"/v1/projects/{project}/forms?publish=true", data=form_xml, headers=xml)
    )["xmlFormId"]
    app_user = _ok(admin.post(f"/v1/projects/{project}/app-users", json={"displayName": "Phone"}))
    _ok(admin.post(f"/v1/projects/{project}/forms/{form_id}/assignments/app-user/{app_user['id']}"))
    return Site(app, project, form_id, app_user["token"])


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.get_json()
    return response.get_json()
