"""Golden files: the exact contents of every table of the sample's CSV zip, option by option.

Each case downloads submissions.csv.zip with one option turned on (or, for `default`, none)
and compares every file in the ZIP byte for byte with tests/exports/golden/<case>/; the list
of entries, with the size of each media file, is in files.txt. On both databases the bytes
must be the same. To rewrite the golden files after a deliberate change, run the tests with
COLLECT_UPDATE_GOLDEN=1 and read the diff before committing it.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from tests.exports.conftest import Sample

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("COLLECT_UPDATE_GOLDEN") == "1"

# case -> (who asks, query string)
CASES = {
    "default": ("admin", ""),
    "viewer": ("viewer", ""),
    "group_paths_false": ("admin", "groupPaths=false"),
    "split_select_multiples": ("admin", "splitSelectMultiples=true"),
    "deleted_fields": ("admin", "deletedFields=true"),
    "labels_en": ("admin", "labels=en"),
    "labels_fr": ("viewer", "labels=French%20(fr)"),
    "sensitive_manager": ("manager", "sensitive=include"),
    "formulas_raw": ("admin", "formulas=raw"),
    "rejected_included": ("admin", "rejected=include"),
    "attachments_false": ("admin", "attachments=false"),
    "everything": (
        "manager",
        "groupPaths=false&splitSelectMultiples=true&deletedFields=true&labels=fr"
        "&sensitive=include&rejected=include&formulas=raw",
    ),
}
# The viewer's default export is the admin's: nobody gets sensitive columns without asking.
SAME_AS = {"viewer": "default"}


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def listing(files: dict[str, bytes]) -> bytes:
    lines = [
        f"{name} {len(data)}" if name.startswith("media/") else name for name, data in files.items()
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("case", list(CASES))
def test_csv_zip_matches_golden_files(sample: Sample, case: str) -> None:
    who, query = CASES[case]
    response = getattr(sample, who).get(sample.url("csv.zip", query))
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/zip"
    files = unzip(response.data)
    expected_files = {name: data for name, data in files.items() if not name.startswith("media/")}
    expected_files["files.txt"] = listing(files)
    folder = GOLDEN / SAME_AS.get(case, case)
    if UPDATE and case not in SAME_AS:
        for old in folder.glob("*"):
            old.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in expected_files.items():
            (folder / name).write_bytes(data)
    golden = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
    assert sorted(expected_files) == sorted(golden)
    for name, data in golden.items():
        assert expected_files[name].decode() == data.decode(), f"{case}/{name}"


def test_media_files_are_the_bytes_the_device_sent(sample: Sample) -> None:
    files = unzip(sample.admin.get(sample.url("csv.zip")).data)
    assert files["media/1704877200001.jpg"] == b"photo-1"
    # The ID card photos are answers to a sensitive question: they stay on the server.
    assert not any("1704877200002" in name or "1709283600001" in name for name in files)
    files = unzip(sample.manager.get(sample.url("csv.zip", "sensitive=include")).data)
    assert files["media/1704877200002.jpg"] == b"id-1"
    assert files["media/1709283600001.jpg"] == b"id-4"


def test_plain_csv_is_the_root_table_of_the_zip(sample: Sample) -> None:
    for query in ("", "labels=fr&splitSelectMultiples=true", "deletedFields=true&groupPaths=false"):
        zipped = unzip(sample.admin.get(sample.url("csv.zip", query)).data)
        response = sample.admin.get(sample.url("csv", query))
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert response.data == zipped["exports_sample.csv"]
