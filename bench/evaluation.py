"""Time the evaluation report of a project with 100,000 pre-tests and 100,000 post-tests.

Usage (from the repository root):

    .venv/bin/python bench/evaluation.py                     # SQLite and PostgreSQL
    .venv/bin/python bench/evaluation.py --backend sqlite --submissions 20000

The six sample forms are published into one project; the pre-test and post-test forms then get
`--submissions` rows each, inserted in bulk as the server stores them (the XML as a phone sends
it and the values derived from it), with 2% edited, 1% rejected and 0.5% deleted. Each report is
then requested through the app (a Flask test client) in a fresh process, several times, and
that process's peak RSS is printed with the times. PostgreSQL is a throw-away cluster
(tests/pgcluster.py). Target: under 3 s for JSON and for CSV, peak RSS under 500 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select

from collect import create_app, demo
from collect.cli import FORMS_DIR, upgrade
from collect.domain import forms
from collect.domain.forms import fields as form_fields
from collect.domain.forms import xform, xlsform
from collect.domain.people import projects, users
from collect.storage.db import db
from collect.storage.models import Form, Submission, SubmissionDef
from tests import pgcluster

EMAIL = "bench@example.org"
PASSWORD = "a long bench password"
SAMPLE_FORMS = demo.PROGRAMME_ORDER  # every form in forms/, in the order a programme uses them
BATCH = 5000
TARGET_SECONDS = 3.0
TARGET_MB = 500
KEY = {"q1": "b", "q2": "a", "q3": "d", "q4": "b", "q5": "c", "q6": "c", "q7": "a", "q8": "d"}
EVENTS = ("tb_reporting_tot", "hrba_planning", "hr_law_enforcement", "upr_follow_up")
INSTITUTIONS = ("government", "parliament", "judiciary", "law_enforcement", "nhri", "cso")
USES = ("revise_procedures", "train_colleagues", "treaty_report", "engage_cso")


# Seeding ----------------------------------------------------------------------------------------


def seed(app: Any, count: int) -> int:
    """Create the admin, the project and its forms, and `count` pre- and post-tests; project id."""
    with app.app_context():
        admin = users.create(EMAIL, PASSWORD, is_admin=True)
        project = projects.create(admin.actor, "Bench", None)
        for name in SAMPLE_FORMS:
            upload = forms.Upload((FORMS_DIR / f"{name}.xlsx").read_bytes(), xlsform.XLSX)
            forms.create(admin.actor, project.id, upload, publish=True, validate_mode="never")
        rng = random.Random(5)
        people = [_person(rng, i) for i in range(count)]
        for form_id, endline in (("training_pretest", False), ("training_posttest", True)):
            _insert(project.id, form_id, people, endline, rng)
        return project.id


def _person(rng: random.Random, i: int) -> dict[str, Any]:
    letters = chr(65 + (i // 10000) // 26 % 26) + chr(65 + (i // 10000) % 26)
    return {
        "participant_code": f"{letters}{i % 10000:04d}",
        "event": rng.choice(EVENTS),
        "sex": rng.choices(("female", "male", "other"), (52, 46, 2))[0],
        "age": str(max(18, min(70, round(rng.gauss(39, 11))))),
        "institution": rng.choice(INSTITUTIONS),
        "ability": min(0.85, max(0.1, rng.gauss(0.42, 0.15))),
    }


def _answers(rng: random.Random, person: dict[str, Any], endline: bool) -> dict[str, str]:
    chance = person["ability"] + (max(-0.05, rng.gauss(0.22, 0.12)) if endline else 0)
    day = datetime(2026, 3, 1, 9, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 300_000))
    answers = {
        "start": day.isoformat(),
        "end": (day + timedelta(minutes=14)).isoformat(),
        "today": day.date().isoformat(),
        "deviceid": f"collect:{rng.randint(1, 400):05d}",
        **{k: person[k] for k in ("participant_code", "event", "sex", "age", "institution")},
    }
    score = 0
    for question, right in KEY.items():
        answer = right if rng.random() < chance else rng.choice(("a", "b", "c", "d", "dont_know"))
        answers[question] = answer
        answers[f"{question}_score"] = "1" if answer == right else "0"
        score += answer == right
    answers["score"] = str(score)
    if rng.random() < 0.01:
        answers["score"] = ""  # a calculation a broken older form version left empty
    if endline:
        answers["satisfaction"] = rng.choices("54321", (38, 40, 15, 5, 2))[0]
        answers["usefulness"] = rng.choice(("very_useful", "useful", "somewhat_useful"))
        uses = rng.sample(USES, rng.randint(1, 3))
        answers["intended_use"] = "none" if rng.random() < 0.08 else " ".join(uses)
        answers["comments"] = "More practical exercises, please." if rng.random() < 0.2 else ""
    return answers


def _insert(
    project_id: int, xml_form_id: str, people: Sequence[dict[str, Any]], endline: bool, rng: Any
) -> None:
    form = db.session.scalar(
        select(Form).where(Form.project_id == project_id, Form.xml_form_id == xml_form_id)
    )
    assert form is not None and form.current_def is not None
    definition = form.current_def
    fields = form_fields.of(definition)
    root_name = xform.read_xform(definition.xml).root_name
    next_sub = (db.session.scalar(select(func.max(Submission.id))) or 0) + 1
    next_def = (db.session.scalar(select(func.max(SubmissionDef.id))) or 0) + 1
    subs: list[dict[str, Any]] = []
    defs: list[dict[str, Any]] = []
    # 90% of the people took each test, so most but not all pre-tests have a post-test. Rows
    # are stored in the order the server received them, as it numbers them.
    arrivals = []
    for person in people:
        if rng.random() > 0.9:
            continue
        answers = _answers(rng, person, endline)
        received = datetime.fromisoformat(answers["end"]) + timedelta(hours=rng.randint(0, 48))
        arrivals.append((received, answers))
    arrivals.sort(key=lambda arrival: arrival[0])
    for received, answers in arrivals:
        instance_id = f"uuid:{rng.getrandbits(128):032x}"
        state = rng.choices((None, "approved", "rejected"), (94, 5, 1))[0]
        deleted = received + timedelta(days=3) if rng.random() < 0.005 else None
        subs.append(
            {
                "id": next_sub,
                "form_id": form.id,
                "instance_id": instance_id,
                "device_id": answers["deviceid"],
                "review_state": state,
                "created_at": received,
                "deleted_at": deleted,
            }
        )
        versions = [answers]
        if rng.random() < 0.02:  # edited: the first version had the age wrong
            versions = [{**answers, "age": str(int(answers["age"]) + 10)}, answers]
        previous = None
        for n, values in enumerate(versions):
            version_id = instance_id if n == 0 else f"uuid:{rng.getrandbits(128):032x}"
            xml = _xml(root_name, xml_form_id, definition.version, fields, values, version_id)
            data = xform.submission_values(xform.parse_xml(xml, what="submission"), fields)
            defs.append(
                {
                    "id": next_def,
                    "submission_id": next_sub,
                    "form_id": form.id,
                    "form_def_id": definition.id,
                    "instance_id": version_id,
                    "deprecated_id": previous,
                    "xml": xml,
                    "xml_sha256": hashlib.sha256(xml).hexdigest(),
                    "data": data,
                    "current": n == len(versions) - 1,
                    "encrypted": False,
                    "device_id": answers["deviceid"],
                    "user_agent": "org.odk.collect.android/v2025.2.1",
                    "attachments_expected": 0,
                    "attachments_present": 0,
                    "created_at": received + timedelta(hours=n * 30),
                }
            )
            previous = version_id
            next_def += 1
        next_sub += 1
        if len(subs) >= BATCH:
            _flush(subs, defs)
    _flush(subs, defs)
    db.session.commit()


def _xml(
    root: str,
    form_id: str,
    version: str,
    fields: Sequence[xform.Field],
    values: dict[str, str],
    instance_id: str,
) -> bytes:
    parts = [f'<?xml version="1.0"?><{root} id="{form_id}" version="{version}">']
    for f in fields:
        if f.is_leaf and not f.path.startswith("/meta/"):
            assert f.path.count("/") == 1, "the benchmark's forms have no groups"
            parts.append(f"<{f.name}>{values.get(f.name, '')}</{f.name}>")
    parts.append(f"<meta><instanceID>{instance_id}</instanceID></meta></{root}>")
    return "".join(parts).encode()


def _flush(subs: list[dict[str, Any]], defs: list[dict[str, Any]]) -> None:
    if subs:
        db.session.execute(insert(Submission), subs)
    if defs:
        db.session.execute(insert(SubmissionDef), defs)
    subs.clear()
    defs.clear()


# Measuring --------------------------------------------------------------------------------------


def measure(url: str, data_dir: str, project_id: int, kind: str, repeat: int) -> dict[str, Any]:
    """In this (fresh) process: request the report `repeat` times; times and peak RSS."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data_dir})
    client = app.test_client()
    token = client.post("/v1/sessions", json={"email": EMAIL, "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    path = f"/v1/projects/{project_id}/evaluation" + (".csv" if kind == "csv" else "")
    times, cpu = [], []
    size = 0
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, headers=headers)
        size = len(response.get_data())  # a streamed body is produced here
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"kind": kind, "times": times, "cpu": cpu, "bytes": size, "peak_mb": peak_mb}


def run(backend: str, url: str, data_dir: str, count: int, repeat: int) -> list[dict[str, Any]]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data_dir})
    upgrade(app)
    started = time.perf_counter()
    project_id = seed(app, count)
    seconds = time.perf_counter() - started
    print(f"[{backend}] seeded {count:,} + {count:,} people in {seconds:.0f} s")
    with app.app_context():
        # A live database has statistics (autovacuum gathers them); a bulk-loaded one not yet.
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        rows = db.session.scalar(select(func.count(SubmissionDef.id)))
        print(f"[{backend}] {rows:,} submission versions stored")
        db.engine.dispose()
    results = []
    for kind in ("json", "csv"):
        args = [sys.executable, __file__, "--measure", kind, "--url", url, "--data-dir", data_dir]
        args += ["--project", str(project_id), "--repeat", str(repeat)]
        out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        result["backend"] = backend
        results.append(result)
        _print(result)
    return results


def _print(result: dict[str, Any]) -> None:
    times, cpu = result["times"], result["cpu"]
    ok = max(times) < TARGET_SECONDS and result["peak_mb"] < TARGET_MB
    print(
        f"[{result['backend']}] {result['kind']:4}: {', '.join(f'{t:.2f}' for t in times)} s"
        f" (this process's CPU: {', '.join(f'{t:.2f}' for t in cpu)} s);"
        f" peak RSS {result['peak_mb']:.0f} MB; {result['bytes'] / 1024:.0f} KiB"
        f"  {'OK' if ok else 'OVER TARGET'}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", choices=("json", "csv"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.url, args.data_dir, args.project, args.measure, args.repeat)))
        return
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        with (
            tempfile.TemporaryDirectory(prefix="collect-bench-") as data_dir,
            pgcluster.database(backend) as server_url,
        ):
            url = server_url or f"sqlite:///{data_dir}/collect.db"
            run(backend, url, data_dir, args.submissions, args.repeat)


if __name__ == "__main__":
    main()
