"""The benchmark scripts still run (tiny sizes): their figures are only worth it if they work."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

RUNS = {
    "ingest": ["-n", "40", "--databases", "sqlite", "--concurrency", "1,4"],
    "ingest-s3": [
        *("-n", "20", "--databases", "sqlite", "--concurrency", "4"),
        *("--blob-store", "dir,s3", "--migrate"),
    ],
    "export": ["--backend", "sqlite", "--sizes", "300"],
    "evaluation": ["--backend", "sqlite", "--submissions", "300", "--repeat", "1"],
    "odata_basic": ["--requests", "3"],
    "decrypt": ["-n", "30", "--photo-kb", "10", "--video-mb", "2"],
}
NEEDS_JAVA = {"decrypt"}  # its envelopes come from the independent Java encryptor


@pytest.mark.parametrize("name", sorted(RUNS))
def test_benchmark_runs(name: str) -> None:
    if name in NEEDS_JAVA and not (shutil.which("java") and shutil.which("javac")):
        pytest.skip("Java (java and javac) is not installed")
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name.split('-')[0]}.py"), *RUNS[name]],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert any(unit in result.stdout for unit in ("/s", " s", " ms")), result.stdout
