"""The `collect` command, run as operators run it (a subprocess with COLLECT_* variables)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests import pgcluster


def run(
    data_dir: Path, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLLECT_DATA_DIR": str(data_dir)}
    if database_url:
        env["COLLECT_DATABASE_URL"] = database_url
    else:
        env.pop("COLLECT_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "collect.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str | None]:
    if request.param == "sqlite":
        return tmp_path, None
    server: str = request.getfixturevalue("postgres_url")
    return tmp_path, pgcluster.create_database(server, "collect_cli")


def test_db_upgrade_is_idempotent_and_keeps_data(target: tuple[Path, str | None]) -> None:
    data_dir, url = target
    first = run(data_dir, "db", "upgrade", database_url=url)
    assert first.returncode == 0, first.stderr
    assert "up to date" in first.stdout
    created = run(
        data_dir,
        "user",
        "create",
        "ana@example.org",
        "--password",
        "a long password",
        "--admin",
        database_url=url,
    )
    assert created.returncode == 0, created.stderr
    again = run(data_dir, "db", "upgrade", database_url=url)
    assert again.returncode == 0, again.stderr
    listed = run(data_dir, "user", "list", database_url=url)
    assert "ana@example.org\tadmin" in listed.stdout
    engine = create_engine(url or f"sqlite:///{data_dir / 'collect.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()


def test_user_commands(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    created = run(tmp_path, "user", "create", "eva@example.org", "--password", "a long password")
    assert created.returncode == 0
    assert "Created user eva@example.org" in created.stdout
    duplicate = run(tmp_path, "user", "create", "eva@example.org", "--password", "a long password")
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr
    short = run(tmp_path, "user", "set-password", "eva@example.org", "--password", "short")
    assert short.returncode != 0
    assert "10 characters" in short.stderr
    changed = run(
        tmp_path, "user", "set-password", "eva@example.org", "--password", "new long password"
    )
    assert changed.returncode == 0, changed.stderr
    unknown = run(
        tmp_path, "user", "set-password", "x@example.org", "--password", "new long password"
    )
    assert unknown.returncode != 0
    assert "no user" in unknown.stderr


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert len(key) == 64
    assert run(tmp_path, "user", "list").returncode == 0
    assert (tmp_path / "secret_key").read_text() == key


def test_demo_sets_everything_up(tmp_path: Path) -> None:
    result = run(tmp_path, "demo", "--no-serve", "--port", "8123")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "admin@example.org" in out
    assert "Password:" in out
    assert "/v1/key/" in out
    assert ":8123/" in out
    for name in ("training_registration", "consultation_record", "beneficiary_feedback"):
        assert name in out
    assert "█" in out or "▀" in out
    png = tmp_path / "demo-collect-qr.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    from tests.web.test_app_users import decode_qr

    general = decode_qr(png.read_bytes())["general"]
    assert isinstance(general, dict)
    assert f"{general['server_url']}" in out
    # A second run reuses everything and does not print a new password.
    second = run(tmp_path, "demo", "--no-serve", "--port", "8123")
    assert second.returncode == 0, second.stderr
    assert "unchanged since the last demo run" in second.stdout


def test_serve_runs_gunicorn_with_threaded_workers(tmp_path: Path) -> None:
    import json
    import signal
    import time
    import urllib.error
    import urllib.request

    port = pgcluster._free_port()
    env = {**os.environ, "COLLECT_DATA_DIR": str(tmp_path)}
    env.pop("COLLECT_DATABASE_URL", None)
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "collect.cli", "serve", "--port", str(port)),
            *("--workers", "2", "--threads", "3"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        answer: urllib.error.HTTPError | None = None
        while answer is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/users/current", timeout=2)
            except urllib.error.HTTPError as e:
                answer = e
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                assert server.poll() is None, "server exited"
                time.sleep(0.2)
        assert answer.code == 401
        assert "Sign in" in json.loads(answer.read())["message"]
        with pytest.raises(urllib.error.HTTPError) as phone:
            urllib.request.urlopen(
                f"http://127.0.0.1:{port}/v1/key/SECRET-TOKEN/projects/1/formList?deviceID=x",
                timeout=10,
            )
        assert phone.value.code == 403
        phone.value.close()
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert "gunicorn" in output.lower()
    assert "Using worker: gthread" in output
    # The access log has every request, and never a phone's token (it is the phone's password).
    assert '"GET /v1/users/current HTTP/1.1" 401' in output
    assert '"GET /v1/key/[token]/projects/1/formList?deviceID=x HTTP/1.1" 403' in output
    assert "SECRET-TOKEN" not in output
    assert output.count("Booting worker") == 2
