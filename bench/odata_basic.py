"""Time OData requests signed in with HTTP Basic, as Excel and Power BI send them, against a token.

Usage (from the repository root):

    .venv/bin/python bench/odata_basic.py                       # SQLite, 30 requests each
    .venv/bin/python bench/odata_basic.py --backend postgresql --requests 50

`collect serve --workers 1` (gunicorn, the production Argon2id parameters) serves a published
form with no submissions, so that the figure is what signing in costs; the same OData feed
(`Submissions?$top=5`) is requested over one keep-alive
connection with a bearer token, with Basic as the server runs by default (a verified credential
remembered for a minute, people/basic_auth.py), and with Basic on a server started with
COLLECT_BASIC_AUTH_SECONDS=0, where every request pays for an Argon2id check (as before).
The first request of each run is reported apart: it is the one that checks the password.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import pgcluster
from tests.live import ADMIN, Server

FORM = "training_registration"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with pgcluster.database(args.backend, "collect_bench_basic") as server_url:
        runs: tuple[tuple[str, dict[str, str]], ...] = (
            ("remembered (default)", {}),
            ("checked every time", {"COLLECT_BASIC_AUTH_SECONDS": "0"}),
        )
        for n, (label, settings) in enumerate(runs):
            url = server_url and pgcluster.create_database(server_url, f"collect_bench_basic{n}")
            with tempfile.TemporaryDirectory() as folder:
                run(url or None, Path(folder), settings, label, args.requests)


def run(url: str | None, folder: Path, settings: dict[str, str], label: str, requests: int) -> None:
    server = Server(url, folder, workers=1, env=settings)
    server.cli("db", "upgrade")
    server.cli("user", "create", ADMIN[0], "--password", ADMIN[1], "--admin")
    server.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        token = call(connection, "POST", "/v1/sessions", {"email": ADMIN[0], "password": ADMIN[1]})
        bearer = {"Authorization": f"Bearer {token['token']}"}
        project = call(connection, "POST", "/v1/projects", {"name": "Bench"}, bearer)["id"]
        xlsx = (ROOT / "forms" / f"{FORM}.xlsx").read_bytes()
        call(connection, "POST", f"/v1/projects/{project}/forms?publish=true", xlsx, bearer)
        feed = f"/v1/projects/{project}/forms/{FORM}.svc/Submissions?$top=5"
        credentials = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
        basic = {"Authorization": f"Basic {credentials}"}
        for name, headers in (("bearer token", bearer), (f"Basic, {label}", basic)):
            times = [timed(connection, feed, headers) for _ in range(requests)]
            rest = times[1:]
            print(
                f"{name:36} first {times[0]:7.1f} ms, then median {statistics.median(rest):6.1f} "
                f"ms, mean {statistics.mean(rest):6.1f} ms ({len(rest)} requests)"
            )
        connection.close()
    finally:
        server.stop()


def call(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> Any:
    sent = dict(headers or {})
    if isinstance(body, bytes):
        sent["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        payload = body
    else:
        sent["Content-Type"] = "application/json"
        payload = json.dumps(body).encode()
    connection.request(method, path, payload, sent)
    response = connection.getresponse()
    data = response.read()
    assert response.status == 200, (path, response.status, data[:300])
    return json.loads(data)


def timed(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status == 200, response.status
    return elapsed


if __name__ == "__main__":
    main()
