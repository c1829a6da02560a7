"""Migrations: they build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade as alembic_upgrade
from sqlalchemy import text

from collect import create_app
from collect.config import MIGRATIONS_DIR
from collect.storage.db import db
from tests import pgcluster
from tests.conftest import BACKENDS


def test_migrations_match_the_models(app) -> None:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrading_keeps_the_sign_in_attempts(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """0002 adds the client's address to login_attempts: rows written before it stay."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    if backend == "postgresql":
        name = f"collect_upgrade_{request.getfixturevalue('worker_id')}"
        url = pgcluster.create_database(request.getfixturevalue("postgres_url"), name)
    app = create_app({"DATA_DIR": str(tmp_path), "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        alembic_upgrade(directory=str(MIGRATIONS_DIR), revision="0001")
        db.session.execute(
            text("INSERT INTO login_attempts (email, attempted_at) VALUES (:e, :t)"),
            {"e": "admin@example.org", "t": datetime.now(UTC)},
        )
        db.session.commit()
        alembic_upgrade(directory=str(MIGRATIONS_DIR))
        rows = db.session.execute(text("SELECT email, address, device FROM login_attempts"))
        assert [tuple(r) for r in rows] == [("admin@example.org", None, None)]
        db.session.remove()
        db.engine.dispose()
