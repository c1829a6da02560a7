"""The benchmark scripts still run (tiny sizes): their figures are only worth it if they work."""

from __future__ import annotations

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
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_benchmark_runs(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name.split('-')[0]}.py"), *RUNS[name]],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "/s" in result.stdout or " s" in result.stdout
