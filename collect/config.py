"""Settings: defaults here, `COLLECT_*` environment variables over them, a test's dict over both."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MB = 1024 * 1024
# Requests a gunicorn worker serves at once (`collect serve --threads`); each may hold a database
# connection, so the pool keeps that many open. A smaller pool would close and reopen the extra
# connections on every busy request, and a PostgreSQL connection starts a server process.
THREADS = 8
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
PASSWORD_HASHING = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}


def load(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the app's configuration; creates the data directory and the secret key if missing."""
    env = os.environ
    overrides = dict(overrides or {})
    data_dir = Path(overrides.get("DATA_DIR") or env.get("COLLECT_DATA_DIR") or "instance")
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = (
        overrides.get("SQLALCHEMY_DATABASE_URI")
        or env.get("COLLECT_DATABASE_URL")
        or f"sqlite:///{data_dir / 'collect.db'}"
    )
    config: dict[str, Any] = {
        "DATA_DIR": str(data_dir),
        "BLOB_DIR": str(data_dir / "blobs"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # Database connections each worker keeps: one per thread (see THREADS).
        "DB_POOL_SIZE": max(1, int(env.get("COLLECT_DB_POOL_SIZE", THREADS))),
        "SECRET_KEY": env.get("COLLECT_SECRET_KEY") or _secret_key(data_dir),
        # Bytes a device may send in one POST; Collect splits larger submissions below this.
        "MAX_SUBMISSION_BYTES": int(env.get("COLLECT_MAX_SUBMISSION_BYTES", 100 * MB)),
        "MAX_XML_BYTES": int(env.get("COLLECT_MAX_XML_BYTES", 10 * MB)),
        "MAX_FORM_BYTES": int(env.get("COLLECT_MAX_FORM_BYTES", 20 * MB)),
        "SESSION_HOURS": int(env.get("COLLECT_SESSION_HOURS", 24)),
        # "auto": run ODK Validate when java is on the PATH; "always" / "never" force it.
        "ODK_VALIDATE": env.get("COLLECT_ODK_VALIDATE", "auto"),
        "TRUST_PROXY": env.get("COLLECT_TRUST_PROXY", "") in ("1", "true", "yes"),
        "BASE_URL": env.get("COLLECT_BASE_URL", ""),
        # Argon2id for web users' passwords: argon2-cffi's defaults (RFC 9106's second
        # recommended option, 64 MiB). Only create_app(config) changes them (the tests make
        # them cheap); hashes keep their own parameters, so changing them never locks anyone out.
        "PASSWORD_HASHING": dict(PASSWORD_HASHING),
        # Passwords each process checks at once (each check takes a core and 64 MiB for about a
        # second), and how long a sign-in waits for a free slot before being told to retry: a
        # flood of sign-ins then cannot take the threads and memory that phones need.
        "PASSWORD_CHECKS_AT_ONCE": int(env.get("COLLECT_PASSWORD_CHECKS_AT_ONCE", 2)),
        "PASSWORD_CHECK_WAIT_SECONDS": float(env.get("COLLECT_PASSWORD_CHECK_WAIT_SECONDS", 1)),
        # How long a process remembers an HTTP Basic credential it verified (Excel and Power BI
        # send it with every request of a refresh); 0 verifies every request. See basic_auth.py.
        "BASIC_AUTH_SECONDS": float(env.get("COLLECT_BASIC_AUTH_SECONDS", 60)),
        **_blob_store(env),
        # Where `collect assets build` put the web-form bundle; empty: collect/static/webforms.
        "WEBFORMS_DIR": env.get("COLLECT_WEBFORMS_DIR", ""),
    }
    config.update(overrides)
    if "SQLALCHEMY_ENGINE_OPTIONS" not in overrides:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(
            config["SQLALCHEMY_DATABASE_URI"], int(config["DB_POOL_SIZE"])
        )
    config["MAX_CONTENT_LENGTH"] = max(config["MAX_SUBMISSION_BYTES"], config["MAX_FORM_BYTES"])
    return config


def _blob_store(env: Mapping[str, str]) -> dict[str, Any]:
    """Where blobs are: "dir" (blobs/ in the data directory) or "s3://bucket/prefix".

    Credentials are boto3's usual ones (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ~/.aws, an
    instance role), or BLOB_S3_ACCESS_KEY_ID / BLOB_S3_SECRET_ACCESS_KEY passed as settings.
    """
    return {
        "BLOB_STORE": env.get("COLLECT_BLOB_STORE", "dir"),
        # Read from when the store lacks a blob: the store a migration copies from.
        "BLOB_FALLBACK": env.get("COLLECT_BLOB_FALLBACK", ""),
        "BLOB_S3_ENDPOINT_URL": env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"),
        "BLOB_S3_REGION": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        "BLOB_S3_ADDRESSING_STYLE": env.get("COLLECT_BLOB_S3_ADDRESSING_STYLE"),
        # Seconds a pre-signed download URL lives; 0 (the default) streams through the server.
        "BLOB_S3_REDIRECT_SECONDS": int(env.get("COLLECT_BLOB_S3_REDIRECT_SECONDS", 0)),
        "BLOB_S3_PUBLIC_ENDPOINT_URL": env.get("COLLECT_BLOB_S3_PUBLIC_ENDPOINT_URL"),
    }


def _engine_options(url: str, pool_size: int) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}, "pool_size": pool_size, "max_overflow": 10}
    # No pre-ping: it costs a round trip on every request. Connections are recycled before a
    # server or a firewall drops them for idleness, and a dead one fails only that request.
    return {"pool_recycle": 300, "pool_size": pool_size, "max_overflow": 10}


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if not path.exists():
        # Written aside and linked into place, so two workers starting together agree on one key.
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret-")
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()
