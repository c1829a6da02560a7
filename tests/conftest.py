"""Fixtures: a fresh app and database per test, on SQLite and on PostgreSQL, through real URLs.

Every test that uses `app` runs twice, once per database. The PostgreSQL server is the one in
COLLECT_TEST_DATABASE_URL, or a throw-away cluster started here with initdb/pg_ctl. Blobs go
to the test's data directory, or with COLLECT_TEST_BLOB_STORE=s3 to a bucket of a throw-away
SeaweedFS (tests/seaweed.py), under a prefix of the test's own.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from collect import assets, create_app
from collect.cli import upgrade
from collect.domain.people import users
from collect.storage.db import db
from tests import pgcluster, seaweed
from tests.encryption.collect_crypto import CollectEncryptor, compile_encryptor
from tests.helpers import Api, sign_in

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "correct horse battery"
FAST_HASHING = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
BACKENDS = [b for b in os.environ.get("COLLECT_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
BLOB_STORE = os.environ.get("COLLECT_TEST_BLOB_STORE", "dir")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (faster than migrating each time)."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    app = create_app({"DATA_DIR": str(folder), "TESTING": True})
    upgrade(app)
    with app.app_context():
        db.engine.dispose()
    return folder / "collect.db"


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    """A migrated PostgreSQL database for this test session (one per xdist worker)."""
    given = os.environ.get("COLLECT_TEST_DATABASE_URL")
    name = f"collect_test_{worker_id}"
    if given:
        yield _migrated(pgcluster.create_database(given, name))
        return
    with pgcluster.cluster() as server:
        yield _migrated(pgcluster.create_database(server, name))


@pytest.fixture(scope="session")
def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _migrated(url: str) -> str:
    import tempfile

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": tempfile.mkdtemp()})
    upgrade(app)
    with app.app_context():
        db.engine.dispose()
    return url


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            if row[0] != "alembic_version"
        ]
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database for one test."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "collect.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate(url)
    return url


@pytest.fixture(scope="session")
def s3_server() -> Iterator[seaweed.S3Server]:
    """A SeaweedFS S3 server for this test session (one per xdist worker)."""
    with seaweed.server() as server:
        yield server


@pytest.fixture
def app_config(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Settings for the test's app; a test may change them before asking for `app`."""
    config: dict[str, Any] = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # JavaRosa checks cost a JVM start; tests about validation turn it on themselves.
        "ODK_VALIDATE": "never",
        # A real Argon2id hash costs about a second of CPU here, and most tests sign someone
        # in; tests/web/test_sessions.py checks the production parameters.
        "PASSWORD_HASHING": FAST_HASHING,
        "BASE_URL": "",
    }
    if BLOB_STORE == "s3":
        server: seaweed.S3Server = request.getfixturevalue("s3_server")
        config.update(server.settings(f"{tmp_path.name}-{uuid.uuid4().hex[:8]}"))
    return config


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_config)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> Api:
    """A signed-in site administrator."""
    with app.app_context():
        users.create(ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
    return sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def project(admin: Api) -> int:
    """A project created by the admin; returns its id."""
    response = admin.post("/v1/projects", json={"name": "Training of trainers 2026"})
    assert response.status_code == 200, response.get_json()
    pid: int = response.get_json()["id"]
    return pid


def make_user(
    app: Flask, client: FlaskClient, email: str, password: str = "a long password"
) -> tuple[int, Api]:
    """Create a web user and sign them in; returns (actor id, their API client)."""
    with app.app_context():
        created = users.create(email, password)
        actor_id = created.actor_id
    return actor_id, sign_in(client, email, password)


@pytest.fixture
def publish(admin: Api, project: int) -> Any:
    """Publish a sample form from forms/ into the project; returns its xmlFormId."""

    def _publish(name: str) -> str:
        response = admin.upload_form(project, name)
        assert response.status_code == 200, response.get_json()
        xml_form_id: str = response.get_json()["xmlFormId"]
        return xml_form_id

    return _publish


@pytest.fixture
def app_user(admin: Api, project: int) -> Any:
    """Create an app user assigned to the given forms; returns its JSON (with `token`)."""

    def _make(*xml_form_ids: str, name: str = "Enumerator 1") -> dict[str, Any]:
        response = admin.post(f"/v1/projects/{project}/app-users", json={"displayName": name})
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        for xml_form_id in xml_form_ids:
            assigned = admin.post(
                f"/v1/projects/{project}/forms/{xml_form_id}/assignments/app-user/{body['id']}"
            )
            assert assigned.status_code == 200, assigned.get_json()
        return body

    return _make


@pytest.fixture(scope="session")
def collect_crypto(tmp_path_factory: pytest.TempPathFactory) -> CollectEncryptor:
    """ODK Collect's submission encryption, in Java, to seal envelopes (skips without Java)."""
    encryptor = compile_encryptor(Path(tmp_path_factory.mktemp("collect-crypto")))
    if encryptor is None:
        pytest.skip("Java (java and javac) is not installed")
    return encryptor


@pytest.fixture(scope="session")
def bundle() -> assets.Bundle:
    """The web-form bundle, built from assets/ unless current (`collect assets build`)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is missing: the web-form bundle cannot be built (apt-get install npm)")
    assets.build(log=lambda _: None)
    built = assets.bundle()
    assert built is not None
    return built
