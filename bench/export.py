"""Time the CSV zip and XLSX exports of 20,000 and 200,000 submissions of a 25-question form.

Usage (from the repository root):

    .venv/bin/python bench/export.py                                  # SQLite and PostgreSQL
    .venv/bin/python bench/export.py --backend sqlite --sizes 20000

A form of 22 questions plus a repeat of 3 (about two members a submission) is published, then
submissions are inserted in bulk as the server stores them: the XML a phone sends and the
values derived from it, with 2% edited and 1% rejected. `collect serve --workers 1` (gunicorn)
serves the database; each export is downloaded over HTTP and timed from the request to the
last byte, with the time to the first byte, and the serving worker's peak RSS during that
export (its high-water mark is reset before each download). The ZIP is opened afterwards to
check that the root table has every exported submission. PostgreSQL is a throw-away cluster
(tests/pgcluster.py). Targets: CSV zip of 20,000 under 1.5 s and of 200,000 under 15 s, peak
RSS under 200 MB; XLSX of 20,000 under 10 s (XLSX of 200,000 only with --xlsx-all).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openpyxl
from sqlalchemy import func, insert, select, text

from collect import create_app
from collect.cli import upgrade
from collect.domain import forms
from collect.domain.forms import fields as form_fields
from collect.domain.forms import xform, xlsform
from collect.domain.people import app_users, projects, users
from collect.storage.db import db
from collect.storage.models import Actor, Submission, SubmissionDef
from tests import pgcluster

EMAIL = "bench@example.org"
PASSWORD = "a long bench password"
FORM_ID = "household_bench"
VERSION = "2026010101"
BATCH = 5000
TARGETS = {("csv.zip", 20_000): 1.5, ("csv.zip", 200_000): 15.0, ("xlsx", 20_000): 10.0}
TARGET_MB = 200

CHOICES = {
    "sex": ("female", "male", "other"),
    "region": ("north", "south", "east", "west", "centre"),
    "yn": ("yes", "no"),
    "needs": ("food", "water", "shelter", "health", "education"),
    "water": ("piped", "well", "river", "truck"),
    "services": ("clinic", "school", "market", "police", "court", "legal_aid"),
    "scale": ("1", "2", "3", "4", "5"),
    "roof": ("metal", "thatch", "tile", "concrete"),
}
# (type, name): 22 questions at the top (three of them in a group), then a repeat of 3.
QUESTIONS = (
    ("text", "respondent"),
    ("integer", "age"),
    ("select_one sex", "sex"),
    ("select_one region", "region"),
    ("date", "visit_date"),
    ("geopoint", "location"),
    ("select_multiple needs", "needs"),
    ("decimal", "income"),
    ("text", "comment"),
    ("select_one yn", "consent"),
    ("integer", "household_size"),
    ("text", "village"),
    ("select_one water", "water_source"),
    ("select_multiple services", "services"),
    ("integer", "children"),
    ("decimal", "distance_km"),
    ("text", "phone"),
    ("select_one scale", "satisfaction"),
    ("date", "last_visit"),
    ("begin_group", "dwelling"),
    ("integer", "rooms"),
    ("select_one roof", "roof"),
    ("text", "landmark"),
    ("end_group", "dwelling"),
)
MEMBER = (("text", "member_name"), ("integer", "member_age"), ("select_one sex", "member_sex"))
WORDS = [
    "the",
    "village",
    "well",
    "is",
    "far",
    "and",
    "the",
    "road",
    "floods",
    "in",
    "the",
    "rainy",
    "season",
    "so",
    "we",
    "walk",
    "more",
    "than",
    "an",
    "hour",
    "to",
    "reach",
    "the",
    "clinic",
    "and",
    "the",
    "school",
]


def workbook() -> bytes:
    """The benchmark's XLSForm."""
    book = openpyxl.Workbook()
    survey = book.active
    assert survey is not None
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    for kind, name in QUESTIONS:
        survey.append([kind, name if kind != "end_group" else None, name.replace("_", " ")])
    survey.append(["begin_repeat", "member", "Household member"])
    for kind, name in MEMBER:
        survey.append([kind, name, name.replace("_", " ")])
    survey.append(["end_repeat", None, None])
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", "label"])
    for list_name, names in CHOICES.items():
        for name in names:
            choices.append([list_name, name, name.title()])
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "form_title"])
    settings.append([FORM_ID, VERSION, "Household survey (benchmark)"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# Seeding ----------------------------------------------------------------------------------------


def _answer(rng: random.Random, kind: str, name: str, day: datetime) -> str:
    base = kind.split()[0]
    if base == "select_one":
        return rng.choice(CHOICES[kind.split()[1]])
    if base == "select_multiple":
        options = CHOICES[kind.split()[1]]
        return " ".join(rng.sample(options, rng.randint(0, 3)))
    if base == "integer":
        return str(rng.randint(0, 90))
    if base == "decimal":
        return f"{rng.uniform(-50, 5000):.2f}"
    if base == "date":
        return (day - timedelta(days=rng.randint(0, 400))).date().isoformat()
    if base == "geopoint":
        return f"{rng.uniform(-35, 35):.6f} {rng.uniform(-20, 50):.6f} {rng.randint(0, 900)} 5"
    if name == "phone":
        return f"+221 77 {rng.randint(0, 999):03d} {rng.randint(0, 9999):04d}"
    return " ".join(rng.sample(WORDS, rng.randint(1, 8)))


def _submission(
    rng: random.Random, day: datetime, instance_id: str
) -> tuple[bytes, dict[str, Any]]:
    """One submission's XML as Collect writes it, and the values the server derives from it."""
    parts = [f'<?xml version="1.0"?><data id="{FORM_ID}" version="{VERSION}">']
    data: dict[str, Any] = {}
    group = ""
    for kind, name in QUESTIONS:
        if kind == "begin_group":
            group = f"/{name}"
            parts.append(f"<{name}>")
            continue
        if kind == "end_group":
            group = ""
            parts.append(f"</{name}>")
            continue
        value = _answer(rng, kind, name, day)
        data[f"{group}/{name}"] = value
        parts.append(f"<{name}>{escape(value)}</{name}>")
    members = []
    for _ in range(rng.choice((0, 1, 2, 2, 3, 4))):
        member: dict[str, str] = {}
        parts.append("<member>")
        for kind, name in MEMBER:
            value = _answer(rng, kind, name, day)
            member[f"/member/{name}"] = value
            parts.append(f"<{name}>{escape(value)}</{name}>")
        parts.append("</member>")
        members.append(member)
    if members:
        data["/member"] = members
    parts.append(f"<meta><instanceID>{instance_id}</instanceID></meta></data>")
    data["/meta/instanceID"] = instance_id
    return "".join(parts).encode(), data


def seed(app: Any, project_id: int, device_id: int, count: int, offset: int) -> None:
    """Insert `count` more submissions, numbered from `offset`, in batches."""
    rng = random.Random(offset)
    with app.app_context():
        form = forms.find(project_id, FORM_ID)
        definition = form.current_def
        assert definition is not None
        fields = form_fields.of(definition)
        next_sub = (db.session.scalar(select(func.max(Submission.id))) or 0) + 1
        next_def = (db.session.scalar(select(func.max(SubmissionDef.id))) or 0) + 1
        start = datetime(2025, 1, 1, tzinfo=UTC)
        subs: list[dict[str, Any]] = []
        defs: list[dict[str, Any]] = []
        for i in range(offset, offset + count):
            received = start + timedelta(seconds=i * 97)
            instance_id = f"uuid:{rng.getrandbits(128):032x}"
            edited = rng.random() < 0.02
            state = (
                "edited" if edited else rng.choices((None, "approved", "rejected"), (94, 5, 1))[0]
            )
            subs.append(
                {
                    "id": next_sub,
                    "form_id": form.id,
                    "instance_id": instance_id,
                    "submitter_id": device_id,
                    "device_id": f"collect:{rng.getrandbits(64):016x}",
                    "review_state": state,
                    "created_at": received,
                }
            )
            ids = [instance_id] + ([f"uuid:{rng.getrandbits(128):032x}"] if edited else [])
            for n, version_id in enumerate(ids):
                xml, data = _submission(rng, received, version_id)
                if i == offset:  # the derived values are the server's own
                    parsed = xform.submission_values(xform.parse_xml(xml, what="xml"), fields)
                    assert parsed == data, (parsed, data)
                defs.append(
                    {
                        "id": next_def,
                        "submission_id": next_sub,
                        "form_id": form.id,
                        "form_def_id": definition.id,
                        "instance_id": version_id,
                        "deprecated_id": ids[0] if n else None,
                        "xml": xml,
                        "xml_sha256": hashlib.sha256(xml).hexdigest(),
                        "data": data,
                        "current": n == len(ids) - 1,
                        "encrypted": False,
                        "submitter_id": device_id,
                        "device_id": subs[-1]["device_id"],
                        "user_agent": "org.odk.collect.android/v2025.2.1",
                        "attachments_expected": 0,
                        "attachments_present": 0,
                        "created_at": received + timedelta(hours=n),
                    }
                )
                next_def += 1
            next_sub += 1
            if len(subs) >= BATCH:
                _flush(subs, defs)
        _flush(subs, defs)
        if db.engine.dialect.name == "postgresql":
            for table in ("submissions", "submission_defs"):
                db.session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            db.session.commit()
            db.session.execute(text("ANALYZE"))
        db.session.commit()
        db.engine.dispose()


def _flush(subs: list[dict[str, Any]], defs: list[dict[str, Any]]) -> None:
    if subs:
        db.session.execute(insert(Submission), subs)
    if defs:
        db.session.execute(insert(SubmissionDef), defs)
    db.session.commit()
    subs.clear()
    defs.clear()


def setup(url: str, data_dir: str) -> tuple[int, int]:
    """Migrate, create the user, project, app user and form; return (project id, app user)."""
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data_dir, "ODK_VALIDATE": "never"}
    )
    upgrade(app)
    with app.app_context():
        user = users.create(EMAIL, PASSWORD, is_admin=True)
        actor = db.session.get(Actor, user.actor_id)
        assert actor is not None
        project = projects.create(actor, "Export benchmark")
        device = app_users.create(actor, project.id, "Enumerator")
        forms.create(
            actor,
            project.id,
            forms.Upload(workbook(), xlsform.XLSX),
            publish=True,
            validate_mode="never",
        )
        ids = (project.id, device.actor_id)
        db.engine.dispose()
    return ids


# Serving and measuring --------------------------------------------------------------------------


@contextmanager
def server(url: str, data_dir: str) -> Iterator[tuple[int, int]]:
    """`collect serve --workers 1`; yields (port, worker pid)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "COLLECT_DATABASE_URL": url, "COLLECT_DATA_DIR": data_dir}
    collect = Path(sys.executable).parent / "collect"
    log = open(Path(data_dir) / "serve.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(collect), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        worker = 0
        while time.monotonic() < deadline and not worker:
            time.sleep(0.2)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
            except OSError:
                continue
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
            worker = int(children.split()[0]) if children.split() else 0
        if not worker:
            raise RuntimeError(f"collect serve did not start; see {log.name}")
        yield port, worker
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak(pid: int) -> None:
    # Writing 5 to clear_refs resets the high-water mark to the current RSS (Linux >= 4.0).
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def token(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"email": EMAIL, "password": PASSWORD})
    conn.request("POST", "/v1/sessions", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200, response.read()
    value: str = json.loads(response.read())["token"]
    conn.close()
    return value


def download(port: int, worker: int, path: str, auth: str, out: Path) -> dict[str, float]:
    """GET `path` into `out`; seconds to the first and the last byte, worker's peak RSS."""
    _reset_peak(worker)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {auth}"})
    response = conn.getresponse()
    assert response.status == 200, response.read()[:500]
    first = None
    size = 0
    with out.open("wb") as f:
        while block := response.read1(1 << 20):
            if first is None:
                first = time.perf_counter() - started
            f.write(block)
            size += len(block)
    total = time.perf_counter() - started
    conn.close()
    return {"seconds": total, "first": first or total, "mb": size / 1e6, "peak": _peak_mb(worker)}


def expected_rows(url: str, data_dir: str) -> int:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data_dir})
    with app.app_context():
        found = db.session.scalar(
            select(func.count(Submission.id)).where(
                (Submission.review_state.is_(None)) | (Submission.review_state != "rejected")
            )
        )
        db.engine.dispose()
    return int(found or 0)


def check_zip(path: Path, rows: int) -> None:
    with zipfile.ZipFile(path) as archive:
        with archive.open(f"{FORM_ID}.csv") as root:
            lines = sum(1 for _ in io.TextIOWrapper(root, encoding="utf-8", newline=""))
        names = archive.namelist()
    assert lines == rows + 1, (lines, rows)
    assert names == [f"{FORM_ID}.csv", f"{FORM_ID}-member.csv"], names


def check_xlsx(path: Path, rows: int) -> None:
    """The workbook's parts are there and the root sheet has a row per submission (+ header)."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        count, tail = 0, b""
        with archive.open("xl/worksheets/sheet1.xml") as root:
            while block := root.read(1 << 20):
                data = tail + block  # a tag may straddle two blocks
                count += data.count(b"<row ")
                tail = data[-4:]
    assert {"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet2.xml"} <= names, names
    assert count == rows + 1, (count, rows)


def run(backend: str, url: str, data_dir: str, sizes: Sequence[int], xlsx_all: bool) -> None:
    project_id, device_id = setup(url, data_dir)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data_dir})
    seeded = 0
    for size in sizes:
        started = time.perf_counter()
        seed(app, project_id, device_id, size - seeded, seeded)
        seeded = size
        rows = expected_rows(url, data_dir)
        print(
            f"[{backend}] {size:,} submissions seeded ({rows:,} to export) "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        base = f"/v1/projects/{project_id}/forms/{FORM_ID}/submissions"
        with server(url, data_dir) as (port, worker):
            auth = token(port)
            kinds = ["csv.zip"] + (["xlsx"] if xlsx_all or (("xlsx", size) in TARGETS) else [])
            for kind in kinds:
                out = Path(data_dir) / f"export.{kind}"
                for attempt in range(2):  # the first run warms the caches; both are shown
                    result = download(port, worker, f"{base}.{kind}", auth, out)
                    if kind == "csv.zip":
                        check_zip(out, rows)
                    else:
                        check_xlsx(out, rows)
                    target = TARGETS.get((kind, size))
                    ok = result["peak"] < TARGET_MB and (
                        target is None or result["seconds"] < target
                    )
                    print(
                        f"[{backend}] {kind:7} {size:>7,}: {result['seconds']:6.2f} s "
                        f"({rows / result['seconds']:>9,.0f} submissions/s), first byte "
                        f"{result['first'] * 1000:5.0f} ms, {result['mb']:6.1f} MB, "
                        f"worker peak RSS {result['peak']:5.0f} MB"
                        + (f"  target {target:g} s: {'OK' if ok else 'MISSED'}" if target else "")
                        + ("  (cold)" if attempt == 0 else ""),
                        flush=True,
                    )
                out.unlink()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sizes", default="20000,200000", help="cumulative, comma-separated")
    parser.add_argument("--xlsx-all", action="store_true", help="XLSX at every size, not 20,000")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="collect-bench-") as data_dir:
            if os.geteuid() == 0:  # the PostgreSQL cluster runs as postgres; the server as us
                os.chmod(data_dir, 0o755)
            with pgcluster.database(backend) as server_url:
                url = server_url or f"sqlite:///{data_dir}/collect.db"
                run(backend, url, data_dir, sizes, args.xlsx_all)


if __name__ == "__main__":
    main()
