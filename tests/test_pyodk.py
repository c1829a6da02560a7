"""pyodk, ODK's own Python client, used against a running collect exactly as against Central."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyodk.client import Client

from tests import live, pgcluster
from tests.helpers import FORMS_DIR

EMAIL, PASSWORD = live.ADMIN


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path):
    url = None
    if request.param == "postgresql":
        # One database per xdist worker: the OData tests serve with these fixtures too.
        name = f"collect_pyodk_{request.getfixturevalue('worker_id')}"
        url = pgcluster.create_database(request.getfixturevalue("postgres_url"), name)
    with live.serve(tmp_path, url) as running:
        yield running.url


@pytest.fixture
def client(server: str, tmp_path: Path) -> Client:
    config = tmp_path / "pyodk_config.toml"
    config.write_text(
        f'[central]\nbase_url = "{server}"\nusername = "{EMAIL}"\npassword = "{PASSWORD}"\n'
    )
    return Client(config_path=str(config), cache_path=str(tmp_path / "pyodk_cache.toml"))


def test_pyodk_projects_forms_and_app_users(client: Client) -> None:
    response = client.session.post("projects", json={"name": "Consultations 2026"})
    assert response.status_code == 200
    pid = response.json()["id"]
    projects = client.projects.list()
    assert [p.name for p in projects] == ["Consultations 2026"]
    assert client.projects.get(pid).id == pid

    form = client.forms.create(definition=FORMS_DIR / "consultation_record.xlsx", project_id=pid)
    assert form.xmlFormId == "consultation_record"
    listed = client.forms.list(project_id=pid)
    assert [f.xmlFormId for f in listed] == ["consultation_record"]
    got = client.forms.get("consultation_record", project_id=pid)
    assert got.publishedAt is not None
    assert got.state == "open"

    users = client.projects.create_app_users(
        display_names=["Field team North"], forms=["consultation_record"], project_id=pid
    )
    assert [u.displayName for u in users] == ["Field team North"]
    assert users[0].token
