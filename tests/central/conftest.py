"""A live collect (gunicorn, as deployed) per database, and pyodk signed in to it.

One server serves the whole session (on each xdist worker): starting gunicorn and migrating
costs seconds, and every test makes its own project, so tests stay independent of each other
and of their order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyodk.client import Client

from tests import live, pgcluster
from tests.conftest import BACKENDS

EMAIL, PASSWORD = live.ADMIN


@dataclass(frozen=True)
class Central:
    """A running server and a pyodk configuration file that signs in to it as the admin."""

    url: str
    config: Path
    folder: Path
    database_url: str | None

    def client(self, project_id: int | None = None, *, cache: Path | None = None) -> Client:
        """A pyodk client (its token cached in `cache`, by default one file per server)."""
        return Client(
            config_path=str(self.config),
            cache_path=str(cache or self.folder / "pyodk_cache.toml"),
            project_id=project_id,
        )


@pytest.fixture(scope="session", params=BACKENDS)
def central(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Central]:
    folder = tmp_path_factory.mktemp("central")
    url = None
    if request.param == "postgresql":
        name = f"collect_central_{request.getfixturevalue('worker_id')}"
        url = pgcluster.create_database(request.getfixturevalue("postgres_url"), name)
    with live.serve(folder / "data", url) as running:
        config = folder / "pyodk_config.toml"
        config.write_text(
            f'[central]\nbase_url = "{running.url}"\n'
            f'username = "{EMAIL}"\npassword = "{PASSWORD}"\n'
        )
        yield Central(running.url, config, folder, url)


@pytest.fixture
def pyodk(central: Central) -> Client:
    """pyodk, with a new project of its own as the default project."""
    admin = central.client()
    response = admin.session.post("projects", json={"name": "pyodk suite"})
    assert response.status_code == 200, response.text
    return central.client(response.json()["id"])
