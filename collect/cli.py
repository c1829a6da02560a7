"""The `collect` command: database upgrades, users, the production server and the demo."""

from __future__ import annotations

import os
import secrets
import socket
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask

from collect import config as settings
from collect import create_app
from collect.errors import CollectError

ROOT = Path(__file__).resolve().parent.parent
FORMS_DIR = ROOT / "forms"
SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address
T = TypeVar("T")


class AppContext:
    def __init__(self) -> None:
        self._app: Flask | None = None

    @property
    def app(self) -> Flask:
        if self._app is None:
            self._app = create_app()
        return self._app


pass_ctx = click.make_pass_decorator(AppContext, ensure=True)


@click.group()
def main() -> None:
    """collect: an ODK-compatible survey server with evaluation reports."""


def _fail(e: CollectError) -> None:
    raise click.ClickException(e.message) from e


# Database ---------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: AppContext) -> None:
    """Create the database or migrate it to the latest schema (safe to run again)."""
    upgrade(ctx.app)
    click.echo(f"Database is up to date ({_safe_url(ctx.app.config['SQLALCHEMY_DATABASE_URI'])}).")


def upgrade(app: Flask) -> None:
    from flask_migrate import upgrade as alembic_upgrade

    with app.app_context():
        alembic_upgrade(directory=str(ROOT / "migrations"))


def _safe_url(url: str) -> str:
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


# Users ------------------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Web users (admins, managers, viewers)."""


@user.command("create")
@click.argument("email")
@click.option(
    "--password",
    required=True,
    help="At least 10 characters; not the email, nor a common password.",
)
@click.option("--admin", is_flag=True, help="Make the user a site administrator.")
@pass_ctx
def user_create(ctx: AppContext, email: str, password: str, admin: bool) -> None:
    """Create a web user."""
    from collect.domain.people import users

    with ctx.app.app_context():
        try:
            created = users.create(email, password, is_admin=admin)
        except CollectError as e:
            _fail(e)
        click.echo(
            f"Created {'admin ' if admin else ''}user {created.email} (id {created.actor_id})."
        )


@user.command("list")
@pass_ctx
def user_list(ctx: AppContext) -> None:
    """List web users."""
    from collect.domain.people import users

    with ctx.app.app_context():
        for u in users.all_users():
            click.echo(f"{u.actor_id}\t{u.email}\t{'admin' if u.is_admin else ''}")


@user.command("set-password")
@click.argument("email")
@click.option(
    "--password",
    required=True,
    help="At least 10 characters; not the email, nor a common password.",
)
@pass_ctx
def user_set_password(ctx: AppContext, email: str, password: str) -> None:
    """Set a user's password (their sessions end)."""
    from collect.domain.people import users

    with ctx.app.app_context():
        try:
            users.set_password(email, password)
        except CollectError as e:
            _fail(e)
        click.echo(f"Password changed for {email}.")


# Blobs ------------------------------------------------------------------------------------------


@main.group("blobs")
def blobs_group() -> None:
    """Stored files (blobs): check them, or move them between the directory and S3."""


@blobs_group.command("check")
@click.option(
    "--store",
    "location",
    default=None,
    help="dir or s3://bucket/prefix. Default: the configured store (COLLECT_BLOB_STORE).",
)
@click.option("--quick", is_flag=True, help="Compare sizes only; do not read and hash the bytes.")
@click.option("--jobs", default=4, show_default=True, type=click.IntRange(1, 64))
@pass_ctx
def blobs_check(ctx: AppContext, location: str | None, quick: bool, jobs: int) -> None:
    """Report every blob whose bytes are missing from the store or differ from their hash."""
    from collect.storage import blobs
    from collect.storage.blobs import transfer

    app = ctx.app
    store = blobs.build(location or app.config["BLOB_STORE"], app.config)
    click.echo(f"Checking the blobs in {store.describe()}{' (sizes only)' if quick else ''}.")
    tally = _blob_errors(lambda: transfer.check(app, store, quick=quick, jobs=jobs))
    for problem in tally.problems:
        row = problem.row
        detail = f" ({problem.detail})" if problem.detail else ""
        click.echo(
            f"{problem.kind.upper()} blob {row.id} sha256 {row.sha256}, {row.size} bytes{detail}"
        )
        for use in transfer.used_by(app, row.id):
            click.echo(f"    used by {use}")
    click.echo(
        f"{tally.rows} blobs checked: {tally.present} intact, "
        f"{sum(p.kind == 'missing' for p in tally.problems)} missing, "
        f"{sum(p.kind == 'corrupt' for p in tally.problems)} corrupt."
    )
    if tally.orphans:
        click.echo(
            f"{tally.orphans} stored files have no row (left by writes that never committed; "
            "harmless)."
        )
    if tally.problems:
        raise SystemExit(1)


@blobs_group.command("migrate")
@click.option("--to", "direction", type=click.Choice(["s3", "dir"]), required=True)
@click.option(
    "--s3",
    "s3_url",
    default=None,
    help="s3://bucket/prefix. Default: COLLECT_BLOB_STORE, when it names a bucket.",
)
@click.option("--jobs", default=4, show_default=True, type=click.IntRange(1, 64))
@pass_ctx
def blobs_migrate(ctx: AppContext, direction: str, s3_url: str | None, jobs: int) -> None:
    """Copy every blob to S3 (--to s3) or to the data directory (--to dir), verifying each.

    Safe while the server runs, and resumable: run it again to copy what is left. To switch
    the server over with nothing unreadable in between: migrate, restart the server on the
    new store with COLLECT_BLOB_FALLBACK set to the old one, migrate again, then drop the
    fallback (see README).
    """
    from collect.storage import blobs
    from collect.storage.blobs import transfer

    app = ctx.app
    configured = str(app.config["BLOB_STORE"] or "dir")
    bucket = s3_url or (configured if configured.startswith("s3://") else None)
    if bucket is None:
        raise click.UsageError("Name the bucket: --s3 s3://bucket/prefix.")
    s3_store, dir_store = blobs.build(bucket, app.config), blobs.build("dir", app.config)
    source, target = (dir_store, s3_store) if direction == "s3" else (s3_store, dir_store)
    click.echo(f"Copying blobs from {source.describe()} to {target.describe()}.")
    started = time.monotonic()

    def progress(tally: transfer.Tally) -> None:
        done = tally.copied + len(tally.problems)
        if done % 500 == 0:
            click.echo(f"  {done} copied so far ({tally.copied_bytes / 1e6:.1f} MB)")

    tally = _blob_errors(
        lambda: transfer.migrate(app, source, target, jobs=jobs, progress=progress)
    )
    for problem in tally.problems:
        row = problem.row
        detail = f" ({problem.detail})" if problem.detail else ""
        click.echo(
            f"NOT COPIED: blob {row.id} sha256 {row.sha256} is {problem.kind} in the source{detail}"
        )
    seconds = time.monotonic() - started
    click.echo(
        f"{tally.rows} blobs: {tally.copied} copied ({tally.copied_bytes / 1e6:.1f} MB), "
        f"{tally.present} already there, {len(tally.problems)} not copied; {seconds:.1f} s."
    )
    if tally.problems:
        raise SystemExit(1)


def _blob_errors(work: Callable[[], T]) -> T:
    try:
        return work()
    except CollectError as e:
        _fail(e)
        raise


# The web-form bundle -----------------------------------------------------------------------------


@main.group()
def assets() -> None:
    """The browser bundle of the web forms (ODK Web Forms, built with npm)."""


@assets.command("build")
@click.option("--force", is_flag=True, help="Build even if nothing changed since the last build.")
def assets_build(force: bool) -> None:
    """Install the pinned npm packages and build the bundle (quick when nothing changed)."""
    from collect import assets as bundle

    # The server reads COLLECT_WEBFORMS_DIR too (collect/config.py): build where it looks.
    output = Path(os.environ.get("COLLECT_WEBFORMS_DIR") or bundle.OUTPUT_DIR)
    try:
        built = bundle.build(force=force, output_dir=output, log=click.echo)
    except bundle.BuildFailed as e:
        raise click.ClickException(str(e)) from e
    if built:
        click.echo(f"The web-form bundle is built in {output}.")
    else:
        click.echo("The web-form bundle is up to date.")


# Serving ----------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Processes. Default: CPU cores + 1.")
@click.option(
    "--threads",
    default=settings.THREADS,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Requests each process serves at once: phones uploading slowly each hold one.",
)
@pass_ctx
def serve(ctx: AppContext, host: str, port: int, workers: int | None, threads: int) -> None:
    """Upgrade the database, then serve with gunicorn (the production server)."""
    upgrade(ctx.app)
    _sweep_blobs(ctx.app)
    _exec_gunicorn(host, port, workers, threads, {})


def _sweep_blobs(app: Flask) -> None:
    """Remove what writes interrupted by a crash left in the blob store (and check it answers)."""
    from collect.storage import blobs

    with app.app_context():
        try:
            removed = blobs.sweep()
        except CollectError as e:
            _fail(e)
    if removed:
        click.echo(f"Removed {removed} temporary files left by interrupted blob writes.")


def default_workers() -> int:
    """Cores + 1: with SQLite or PostgreSQL on the same machine, more workers only add switching
    (bench/ingest.py on 2 cores: 3 workers take ~10% more submissions/s than 4 or 5)."""
    return (os.cpu_count() or 1) + 1


def _exec_gunicorn(
    host: str,
    port: int,
    workers: int | None,
    threads: int = settings.THREADS,
    config: dict[str, str | int] | None = None,
) -> None:
    """Replace this process with gunicorn serving `create_app(config)` (plus the pool size).

    The settings reach each worker as the factory's argument (gunicorn evaluates literal
    arguments of `module:factory(...)`), not through the environment.
    """
    # Threads, not only processes: a phone on a poor network may take minutes to send its
    # photos, and with one request per process a few such phones would leave nobody else served.
    count = workers or default_workers()
    app_config = {"DB_POOL_SIZE": threads, **(config or {})}
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(ROOT),
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(count),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        # Phones on slow networks take long to upload photos; don't cut them off.
        "--timeout",
        "300",
        "--graceful-timeout",
        "30",
        "--access-logfile",
        "-",
        "--logger-class",
        "collect.web.access_log.AccessLogger",
        f"collect:create_app({app_config!r})",
    ]
    sys.stdout.flush()
    os.execv(sys.executable, args)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="0.0.0.0 lets phones connect.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set everything up, print, and exit.")
def demo(host: str, port: int, workers: int, no_serve: bool) -> None:
    """Set up a demo project with the sample forms and an app user, then serve it."""
    from collect import demo as demo_setup

    lan = _lan_address() if host == "0.0.0.0" else host
    base = os.environ.get("COLLECT_BASE_URL") or f"http://{lan}:{port}"
    app = create_app({"BASE_URL": base})
    upgrade(app)
    _sweep_blobs(app)
    with app.app_context():
        result = demo_setup.run(FORMS_DIR, base, app.config["ODK_VALIDATE"])
    data_dir = Path(app.config["DATA_DIR"])
    png = data_dir / "demo-collect-qr.png"
    png.write_bytes(result.qr_png)
    lines: list[Any] = [
        "",
        "collect demo is ready.",
        "",
        f"  Browser:            http://127.0.0.1:{port}/   (from another computer: {base}/)",
        f"  Sign in as:         {result.email}",
    ]
    if result.password:
        lines.append(f"  Password:           {result.password}   (shown once; keep it)")
    else:
        lines.append("  Password:           unchanged since the last demo run")
    lines += [
        f"  Project:            {result.project_name} (id {result.project_id}), "
        f"{len(result.forms)} forms: {', '.join(result.forms)}",
        f"  ODK Collect server: {result.server_url}",
        f"  QR code (PNG):      {png}",
    ]
    if result.submissions:
        lines.append(
            f"  Sample data:        {result.submissions} synthetic submissions, so the"
            " evaluation report has something to show"
        )
    if "://127." in base or "://localhost" in base:
        lines.append(
            "  Note: a phone cannot reach 127.0.0.1. Run again with the address phones see, e.g. "
            f"COLLECT_BASE_URL=http://192.168.1.20:{port} ./dev demo"
        )
    lines += [
        "",
        "Scan this code in ODK Collect (Project > Add project > Configure with QR code):",
        "",
    ]
    click.echo("\n".join(str(x) for x in lines))
    click.echo(result.qr_text)
    if no_serve:
        return
    click.echo(f"Serving on {host}:{port} with gunicorn; press Ctrl+C to stop.\n")
    _exec_gunicorn(host, port, workers, config={"BASE_URL": base})


def _lan_address() -> str:
    """This machine's first non-loopback IPv4 address, the one phones on its network can reach.

    Read from the network interfaces (Linux SIOCGIFADDR), so nothing is sent anywhere.
    """
    try:
        import fcntl

        for _, name in socket.if_nameindex():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    request = struct.pack("256s", name[:15].encode())
                    packed = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
                except OSError:
                    continue
            address = socket.inet_ntoa(packed[20:24])
            if not address.startswith("127."):
                return address
    except (ImportError, OSError):
        pass
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
    return address


def generated_password() -> str:
    return secrets.token_urlsafe(12)


if __name__ == "__main__":
    main()
