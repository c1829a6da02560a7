"""Ingest benchmark: how many ODK Collect submissions per second `collect serve` stores.

Starts `collect serve` (gunicorn) on 127.0.0.1 on SQLite and on a throw-away PostgreSQL
(tests/pgcluster.py), publishes a realistic form (25 questions, a repeat, a photo), then posts N
submissions, each with its own small photo, at several concurrencies from threads holding one
keep-alive connection each (as Collect's OkHttp does), and prints submissions per second and
p50/p95 latency. Each POST is what Collect sends (multipart: the instance XML and the photo);
the pre-flight HEAD, which Collect makes once per sending run, is left out of the timings.
Every submission is checked to be stored, and every photo to be in the blob store.

With `--blob-store s3` the photos go to a throw-away SeaweedFS (tests/seaweed.py) on the same
machine, set up through the usual AWS_* variables. With `dir,s3` both servers run at once and
each concurrency is measured on one and then the other, so both see the same load from the
machine's other tenants. `--migrate` then times `collect blobs migrate` of every photo from the
bucket to an empty data directory and back to a new prefix.

    .venv/bin/python bench/ingest.py                 # 2000 per run, concurrency 1, 4 and 16
    .venv/bin/python bench/ingest.py -n 500 --databases sqlite --workers 4
    .venv/bin/python bench/ingest.py --blob-store dir,s3 --migrate
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from collect.cli import default_workers
from collect.config import THREADS
from collect.storage import blobs
from collect.storage.db import db
from collect.storage.models import Blob, Submission
from tests import pgcluster, seaweed
from tests.live import Server
from tests.openrosa import samples
from tests.openrosa.collect_device import Instance, multipart
from tests.openrosa.live import Site, dispose, local_app, set_up

FORM_MD = """
| survey |  |  |  |  |
|  | type | name | label | calculation |
|  | start | start |  |  |
|  | end | end |  |  |
|  | deviceid | deviceid |  |  |
|  | text | enumerator | Enumerator |  |
|  | date | interview_date | Date of the interview |  |
|  | select_one region | region | Region |  |
|  | text | district | District |  |
|  | text | village | Village |  |
|  | geopoint | location | Location |  |
|  | select_one yes_no | consent | Consent given? |  |
|  | text | respondent | Respondent's name |  |
|  | text | phone | Phone number |  |
|  | select_one sex | sex | Sex |  |
|  | integer | age | Age |  |
|  | select_one yes_no | disability | Any difficulty (WG-SS)? |  |
|  | select_one education | education | Highest education |  |
|  | text | occupation | Occupation |  |
|  | decimal | income | Monthly income |  |
|  | select_multiple service | services | Services used |  |
|  | select_one scale | satisfaction | Satisfaction |  |
|  | select_one yes_no | felt_safe | Felt safe to complain? |  |
|  | integer | complaints | Complaints made |  |
|  | image | photo | Photo of the meeting place |  |
|  | begin_repeat | member | Household member |  |
|  | text | member_name | Name |  |
|  | integer | member_age | Age |  |
|  | select_one sex | member_sex | Sex |  |
|  | select_one yes_no | member_school | Goes to school? |  |
|  | end_repeat | member |  |  |
|  | calculate | members |  | count(${member}) |
|  | text | comments | Comments |  |
| choices |  |  |  |  |
|  | list_name | name | label |  |
|  | region | north | North |  |
|  | region | south | South |  |
|  | yes_no | yes | Yes |  |
|  | yes_no | no | No |  |
|  | sex | female | Female |  |
|  | sex | male | Male |  |
|  | education | none | None |  |
|  | education | primary | Primary |  |
|  | education | secondary | Secondary |  |
|  | service | health | Health |  |
|  | service | legal | Legal aid |  |
|  | service | shelter | Shelter |  |
|  | scale | 1 | Very unsatisfied |  |
|  | scale | 5 | Very satisfied |  |
| settings |  |  |  |  |
|  | form_id | version | instance_name |  |
|  | household_survey | 2026112801 | concat(${respondent}, ' ', ${village}) |  |
"""
PHOTO_BYTES = 12_000  # a small, compressed phone photo


@dataclass(frozen=True)
class Result:
    database: str
    blob_store: str
    concurrency: int
    count: int
    seconds: float
    latencies: list[float]
    server_cpu: float  # seconds of CPU the server's processes spent on the run
    database_cpu: float  # and PostgreSQL's (0 for SQLite, which runs inside the server)
    storage_cpu: float  # and SeaweedFS's (0 for the directory store)

    @property
    def cpu_ms(self) -> float:
        """Server CPU per submission: steadier than the rate on a machine shared with others."""
        return self.server_cpu / self.count * 1000

    @property
    def database_ms(self) -> float:
        return self.database_cpu / self.count * 1000

    @property
    def storage_ms(self) -> float:
        return self.storage_cpu / self.count * 1000

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def submission(i: int) -> tuple[bytes, str]:
    """One realistic multipart POST body: the instance XML and its own photo."""
    nodes: list[samples.Node] = [
        ("start", "2026-11-28T09:00:00.000+01:00"),
        ("end", "2026-11-28T09:25:00.000+01:00"),
        ("deviceid", "collect:AbCdEfGh12345678"),
        ("enumerator", "Enumerator 3"),
        ("interview_date", "2026-11-28"),
        ("region", "north"),
        ("district", "Central"),
        ("village", f"Village {i % 50}"),
        ("location", "12.5 -1.25 300.0 5.0"),
        ("consent", "yes"),
        ("respondent", f"Respondent {i}"),
        ("phone", f"+41 79 {i:07d}"),
        ("sex", "female" if i % 2 else "male"),
        ("age", str(18 + i % 60)),
        ("disability", "no"),
        ("education", "secondary"),
        ("occupation", "Farmer"),
        ("income", "120.5"),
        ("services", "health legal"),
        ("satisfaction", "5"),
        ("felt_safe", "yes"),
        ("complaints", "0"),
        ("photo", f"{1712345678000 + i}.jpg"),
        (
            "member",
            [
                ("member_name", "A"),
                ("member_age", "9"),
                ("member_sex", "female"),
                ("member_school", "yes"),
            ],
        ),
        (
            "member",
            [
                ("member_name", "B"),
                ("member_age", "12"),
                ("member_sex", "male"),
                ("member_school", "yes"),
            ],
        ),
        ("members", "2"),
        ("comments", ""),
    ]
    xml = samples.instance(
        "household_survey",
        "2026112801",
        nodes,
        instance_id=f"uuid:{uuid.uuid4()}",
        instance_name=f"Respondent {i} Village {i % 50}",
    )
    photo = (f"{1712345678000 + i}.jpg", samples.jpeg(PHOTO_BYTES, seed=i))
    return multipart(Instance(xml), [photo], False)


class _Connection:
    """One keep-alive HTTP/1.1 connection, as OkHttp keeps one per host; reopened when closed.

    Deliberately minimal, so that the client (on the same cores as the server) costs little:
    each request is one prebuilt buffer, sent with one `sendall`, and the response is read by
    its Content-Length.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def exchange(self, request: bytes) -> int:
        """Send one request and read its whole response; return the status."""
        if self.sock is None:
            self._open()
        try:
            return self._exchange(request)
        except (ConnectionError, _Closed):
            # The server closed an idle keep-alive connection before this request: reconnect once.
            self._open()
            return self._exchange(request)

    def _open(self) -> None:
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def _exchange(self, request: bytes) -> int:
        sock = self.sock
        assert sock is not None
        sock.sendall(request)
        data = self.buffer
        while (end := data.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise _Closed()
            data += chunk
        head = data[:end].decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        length, close = 0, False
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection":
                close = value.strip().lower() == "close"
        data = data[end + 4 :]
        while len(data) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed mid-response")
            data += chunk
        self.buffer = data[length:]
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class _Closed(Exception):
    """The server closed the connection before answering (an idle keep-alive timeout)."""


def post_all(
    server: Server, site: Site, bodies: list[tuple[bytes, str]], concurrency: int
) -> tuple[float, list[float]]:
    """POST every body from `concurrency` threads; return wall time and per-POST latencies.

    Each thread keeps one connection open between its POSTs, as Collect's OkHttp does. Requests
    are built before the clock starts: each is still a whole multipart POST with its own photo.
    """
    device = "collect%3AAbCdEfGh12345678"
    path = f"/v1/key/{site.token}/projects/{site.project}/submission?deviceID={device}"
    requests = [
        (
            f"POST {path} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            "X-OpenRosa-Version: 1.0\r\n"
            "User-Agent: org.odk.collect.android/v2026.2.0 bench\r\n"
            "\r\n"
        ).encode("latin-1")
        + body
        for body, content_type in bodies
    ]
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    next_index = iter(range(len(requests)))

    def worker() -> None:
        mine: list[float] = []
        connection = _Connection(server.port)
        try:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    break
                started = time.perf_counter()
                status = connection.exchange(requests[i])
                mine.append(time.perf_counter() - started)
                if status != 201:
                    with lock:
                        failures.append(f"POST {i}: {status}")
        finally:
            connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} POSTs failed, first: {failures[0]}")
    return elapsed, latencies


def cpu_of(wanted: Callable[[str, list[str]], bool]) -> float:
    """CPU seconds (user + system) of the live processes `wanted(name, stat fields)` picks."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # ended while we looked
        # The name is in parentheses and may hold spaces; the other fields follow it.
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if wanted(name, fields):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def group_cpu(pgid: int) -> float:
    """CPU seconds of a process group (gunicorn's master and workers)."""
    return cpu_of(lambda _name, fields: int(fields[2]) == pgid)


def postgres_cpu() -> float:
    """CPU seconds of the PostgreSQL processes (the throw-away cluster is the only one here)."""
    return cpu_of(lambda name, _fields: name == "postgres")


def stored_count(site: Site) -> int:
    """Submissions stored; raises when a photo's row has no bytes in the blob store."""
    with site.app.app_context():
        count = db.session.scalar(select(func.count(Submission.id))) or 0
        rows = set(db.session.scalars(select(Blob.sha256)))
        db.session.remove()
        held = {sha for sha, _ in blobs.store().inventory()}
    if rows - held:
        raise SystemExit(f"{len(rows - held)} photos have a row but no bytes in the store")
    return count


@contextmanager
def databases(name: str, folders: list[Path]) -> Iterator[list[str]]:
    """One empty database per folder: SQLite files, or databases of one PostgreSQL cluster."""
    if name == "sqlite":
        yield [f"sqlite:///{folder / 'collect.db'}" for folder in folders]
        return
    with pgcluster.cluster() as server:
        yield [pgcluster.create_database(server, f"collect_bench_{i}") for i in range(len(folders))]


@dataclass
class Target:
    """A server on one database with its blobs in one store, and the form it takes."""

    database: str
    store: str
    server: Server
    site: Site
    s3: seaweed.S3Server | None
    bucket: str = ""
    sent: int = 0

    def storage_cpu(self) -> float:
        return group_cpu(self.s3.pid) if self.s3 is not None else 0.0


def run(
    name: str,
    count: int,
    concurrencies: list[int],
    workers: int,
    stores: list[seaweed.S3Server | None],
    migrate: bool = False,
) -> list[Result]:
    """Ingest on database `name`, one server per blob store (None: the directory), all started
    at once and measured in turn at each concurrency, so that they share the machine's moods."""
    results = []
    with contextlib.ExitStack() as stack:
        tmp = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix=f"collect-bench-{name}-"))
        )
        folders = [tmp / f"store-{i}" for i in range(len(stores))]
        for folder in folders:
            folder.mkdir()
        targets = []
        for folder, url, s3 in zip(
            folders, stack.enter_context(databases(name, folders)), stores, strict=True
        ):
            env: dict[str, str] = {}
            bucket = ""
            if s3 is not None:
                bucket = f"s3://{s3.bucket}/ingest-{name}-{uuid.uuid4().hex[:8]}"
                env = {**s3.environment(), "COLLECT_BLOB_STORE": bucket}
            server = Server(url, folder, workers=workers, env=env)
            server.start()
            stack.callback(server.stop)
            app = local_app(url, folder)
            stack.callback(dispose, app)
            if s3 is not None:
                app.config.update(s3.settings(bucket.split("/", 3)[3]))
            site = set_up(app, samples.xform(FORM_MD))
            targets.append(Target(name, "s3" if s3 else "dir", server, site, s3, bucket))
        for concurrency in concurrencies:
            for target in targets:
                results.append(measure(target, count, concurrency))
        if migrate:
            for target in targets:
                if target.s3 is not None:
                    time_migrations(target.server, target.bucket)
    return results


def measure(target: Target, count: int, concurrency: int) -> Result:
    """POST `count` new submissions to the target at `concurrency`; print and return figures."""
    server, site = target.server, target.site
    bodies = [submission(target.sent + i) for i in range(count)]
    assert server.process is not None
    cpu_before = group_cpu(server.process.pid), postgres_cpu(), target.storage_cpu()
    seconds, latencies = post_all(server, site, bodies, concurrency)
    server_cpu = group_cpu(server.process.pid) - cpu_before[0]
    database_cpu = postgres_cpu() - cpu_before[1] if target.database != "sqlite" else 0.0
    storage_cpu = target.storage_cpu() - cpu_before[2]
    target.sent += count
    if (stored := stored_count(site)) != target.sent:
        raise SystemExit(f"{target.database}: {stored} stored, {target.sent} sent")
    result = Result(
        target.database,
        target.store,
        concurrency,
        count,
        seconds,
        latencies,
        server_cpu,
        database_cpu,
        storage_cpu,
    )
    p50, p95 = result.percentile(50), result.percentile(95)
    print(
        f"{target.database:<11} {target.store:<4} c={concurrency:<3} {result.rate:8.1f}/s"
        f"  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms"
        f"  CPU per submission: server {result.cpu_ms:.2f} ms,"
        f" PostgreSQL {result.database_ms:.2f} ms,"
        f" SeaweedFS {result.storage_ms:.2f} ms",
        flush=True,
    )
    return result


def time_migrations(server: Server, bucket: str) -> None:
    """`collect blobs migrate` of every photo: the bucket to an empty directory, and back."""
    server.stop()  # the figures are the copy's alone, not shared with ingest
    copy = f"{bucket}-copy"
    for args in (("--to", "dir", "--s3", bucket), ("--to", "s3", "--s3", copy)):
        started = time.perf_counter()
        out = server.cli("blobs", "migrate", *args)
        seconds = time.perf_counter() - started
        summary = out.strip().splitlines()[-1]
        print(f"blobs migrate {' '.join(args[:2])}: {seconds:.1f} s with start-up: {summary}")
    checked = server.cli("blobs", "check", "--store", copy).strip().splitlines()[-1]
    print(f"blobs check of the copy: {checked}")


def breakdown(count: int) -> None:
    """CPU per POST inside one process (SQLite, no HTTP server), and what it is spent on."""
    import io

    from collect.cli import upgrade
    from collect.web import form_parts

    def cpu_ms(work: Callable[[int], object]) -> float:
        started = time.process_time()
        for i in range(count):
            work(i)
        return (time.process_time() - started) / count * 1000

    with tempfile.TemporaryDirectory(prefix="collect-bench-breakdown-") as tmp:
        folder = Path(tmp)
        app = local_app(f"sqlite:///{folder / 'collect.db'}", folder)
        upgrade(app)
        try:
            site = set_up(app, samples.xform(FORM_MD))
            client = app.test_client()
            path = f"/v1/key/{site.token}/projects/{site.project}/submission"
            bodies = [submission(i) for i in range(2 * count)]
            photos = [samples.jpeg(PHOTO_BYTES, seed=10**9 + i) for i in range(count)]

            def post(i: int) -> None:
                body, content_type = bodies[count + i]
                client.post(path, data=body, headers={"Content-Type": content_type})

            def parse(i: int) -> None:
                body, content_type = bodies[i]
                boundary = form_parts.boundary_of(content_type)
                assert boundary is not None
                parts = form_parts.read_parts(io.BytesIO(body).read, boundary, len(body), {})
                for part in parts.values():
                    part.read()
                    part.close()

            def put(i: int) -> None:
                blobs.put_id(photos[i], "image/jpeg")
                db.session.commit()

            whole = cpu_ms(post)
            head = cpu_ms(lambda i: client.head(path))
            multipart_ms = cpu_ms(parse)
            with app.app_context():
                blob_ms = cpu_ms(put)
        finally:
            dispose(app)
    rest = whole - head - multipart_ms - blob_ms
    print(f"CPU per POST in-process (test client, SQLite): {whole:.2f} ms, of which")
    print(f"  {head:5.2f} ms  Flask + test client + token lookup (a HEAD /submission)")
    print(f"  {multipart_ms:5.2f} ms  the multipart parser (collect.web.form_parts)")
    print(f"  {blob_ms:5.2f} ms  blobs.put_id of the photo (hash, write, 2 fsyncs, row)")
    print(f"  {rest:5.2f} ms  the rest: XML, form lookup, 3 INSERTs, commit, response")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--count", type=int, default=2000, help="submissions per run")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated (default 1,4,16)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="gunicorn workers (default: as `collect serve`, cores + 1)",
    )
    parser.add_argument(
        "--blob-store",
        default="dir",
        help="dir, s3 (a throw-away SeaweedFS) or both, comma-separated (default dir)",
    )
    parser.add_argument(
        "--migrate", action="store_true", help="with s3: also time `collect blobs migrate`"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="only measure CPU per POST in-process, by part"
    )
    args = parser.parse_args()
    if args.breakdown:
        breakdown(min(args.count, 500))
        return
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    print(f"{args.count} submissions per run, {args.workers} gunicorn workers", end="")
    print(f" of {THREADS} threads, ", end="")
    print(f"one {PHOTO_BYTES}-byte photo each")
    stores = args.blob_store.split(",")
    if not set(stores) <= {"dir", "s3"}:
        parser.error("--blob-store takes dir, s3 or dir,s3")
    results = []
    with contextlib.ExitStack() as stack:
        s3 = stack.enter_context(seaweed.server("bench")) if "s3" in stores else None
        chosen = [s3 if store == "s3" else None for store in stores]
        for name in args.databases.split(","):
            results += run(name, args.count, concurrencies, args.workers, chosen, args.migrate)
    print()
    print(
        "| database | blobs | concurrency | submissions/s | p50 ms | p95 ms"
        " | CPU ms each: server | PostgreSQL | SeaweedFS |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        p50, p95 = r.percentile(50), r.percentile(95)
        print(
            f"| {r.database} | {r.blob_store} | {r.concurrency} | {r.rate:.0f} | {p50:.1f}"
            f" | {p95:.1f} | {r.cpu_ms:.2f} | {r.database_ms:.2f} | {r.storage_ms:.2f} |"
        )


if __name__ == "__main__":
    main()
