"""Indicator sheets are checked at every upload; refusals give sheet, row, column and a fix."""

from __future__ import annotations

from typing import Any

import pytest

from tests.evaluation.conftest import (
    BASE_QUESTIONS,
    INDICATOR_COLUMNS,
    WORKED_INDICATORS,
    Phone,
    posttest,
    pretest,
    published,
    upload,
    workbook,
)
from tests.evaluation.test_worked_example import indicator
from tests.helpers import XLSX, Api


def _sheet(**cells: object) -> list[tuple[object, ...]]:
    """An indicators sheet with one row (row 2), given by column."""
    row = {"name": "probe", "section": "impact", "label": "Probe", "type": "count", **cells}
    columns = (*INDICATOR_COLUMNS, "where")
    return [columns, tuple(row.get(c) for c in columns)]


def _problems(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["code"] == 400.15
    problems: list[dict[str, Any]] = body["details"]["problems"]
    return problems


REFUSALS = [
    pytest.param(
        {"type": "mean", "field": "height"}, "field", "no question named 'height'", id="unknown"
    ),
    pytest.param(
        {"type": "mean", "field": "participant_code"}, "field", "needs a numeric", id="mean-text"
    ),
    pytest.param({"by": "participant_code"}, "by", "cannot disaggregate", id="by-free-text"),
    pytest.param({"by": "sex:0-17,18+"}, "by", "bands need a numeric question", id="bands-select"),
    pytest.param({"by": "score:0-5,4+"}, "by", "overlaps", id="bands-overlap"),
    pytest.param(
        {"type": "percent", "field": "sex", "condition": "${sex} = = 'female'"},
        "condition",
        "cannot be read",
        id="syntax",
    ),
    pytest.param({"where": "${age} > 18"}, "where", "${age} is not a question", id="unknown-ref"),
    pytest.param({"type": "percent", "field": "sex"}, "condition", "needs a condition", id="cond"),
    pytest.param({"type": "median"}, "type", "unknown type 'median'", id="type"),
    pytest.param({"section": "outcome"}, "section", "unknown section", id="section"),
    pytest.param({"name": "Probe 1"}, "name", "not a valid name", id="name"),
    pytest.param({"target": "eighty"}, "target", "must be a number", id="target"),
    pytest.param(
        {
            "type": "change",
            "field": "satisfaction",
            "baseline_form": "tot_pretest",
            "key": "participant_code",
        },
        "field",
        "baseline form 'tot_pretest' has no question named 'satisfaction'",
        id="baseline-lacks-field",
    ),
    pytest.param(
        {
            "type": "change",
            "field": "score",
            "baseline_form": "tot_pretest",
            "key": "badge",
        },
        "key",
        "baseline form 'tot_pretest' has no question named 'badge'",
        id="baseline-lacks-key",
    ),
    pytest.param(
        {
            "type": "change",
            "field": "score",
            "baseline_form": "tot_posttest",
            "key": "participant_code",
        },
        "baseline_form",
        "another form than this one",
        id="baseline-itself",
    ),
]


@pytest.mark.parametrize(("cells", "column", "message"), REFUSALS)
def test_refused_with_sheet_row_and_column(
    admin: Api, project: int, cells: dict[str, object], column: str, message: str
) -> None:
    published(admin, project, pretest())
    questions = [
        *BASE_QUESTIONS,
        ("integer", "satisfaction", "Satisfaction", "Satisfaction"),
        ("text", "badge", "Badge", "Badge"),
    ]
    response = upload(admin, project, posttest(_sheet(**cells), questions=questions))
    problems = _problems(response)
    assert len(problems) == 1, problems
    assert problems[0]["sheet"] == "indicators"
    assert problems[0]["row"] == 2
    assert problems[0]["column"] == column
    assert message in problems[0]["message"]
    # The message alone tells an API user where to look.
    assert f"sheet 'indicators', row 2, column '{column}'" in response.get_json()["message"]
    assert admin.get(f"/v1/projects/{project}/forms/tot_posttest").status_code == 404


def test_every_problem_is_listed_at_once(admin: Api, project: int) -> None:
    sheet = [
        INDICATOR_COLUMNS,
        ("ok", "impact", "Fine", None, "count"),
        ("bad_mean", "impact", "Mean of text", None, "mean", "participant_code"),
        (),
        ("bad_by", "impact", "By text", None, "count", None, None, "participant_code"),
    ]
    problems = _problems(upload(admin, project, pretest(indicators=sheet)))
    assert [(p["row"], p["column"]) for p in problems] == [(3, "field"), (5, "by")]


def test_a_name_is_unique_within_the_project(admin: Api, project: int) -> None:
    published(admin, project, pretest(indicators=_sheet(name="trained")))
    problems = _problems(upload(admin, project, posttest()))
    assert (problems[0]["row"], problems[0]["column"]) == (2, "name")
    assert "already used by another form" in problems[0]["message"]


def test_a_new_version_is_checked_too(admin: Api, project: int) -> None:
    published(admin, project, pretest())
    response = admin.post(
        f"/v1/projects/{project}/forms/tot_pretest/draft",
        data=workbook("tot_pretest", version="2", indicators=_sheet(type="sum", field="sex")),
        headers={"Content-Type": XLSX},
    )
    problems = _problems(response)
    assert (problems[0]["row"], problems[0]["column"]) == (2, "field")


def test_a_form_without_the_sheet_has_no_indicators(admin: Api, project: int) -> None:
    published(admin, project, pretest())
    report = admin.get(f"/v1/projects/{project}/evaluation").get_json()
    assert report["sections"][0]["indicators"] == []
    assert report["sections"][1]["indicators"] == []


def test_change_waits_for_its_baseline_form(
    admin: Api, project: int, phone: Any, client: Any
) -> None:
    published(admin, project, posttest())
    admin.patch(f"/v1/projects/{project}", json={"minCell": 0})
    report = admin.get(f"/v1/projects/{project}/evaluation").get_json()
    gain = indicator(report, "knowledge_gain")
    assert gain["waitingFor"] == "tot_pretest"
    assert all(m["value"] is None for m in gain["measures"])
    csv_text = admin.get(f"/v1/projects/{project}/evaluation.csv").get_data(as_text=True)
    assert "knowledge_gain,Change in knowledge score,change,pairs,,,,,,2,false" in csv_text
    # The other indicators of the form are computed meanwhile.
    assert indicator(report, "trained")["total"]["value"] == 0

    published(admin, project, pretest())
    device: Phone = phone("tot_pretest", "tot_posttest")
    device.send("tot_pretest", {"participant_code": "P1", "sex": "female", "score": "4"})
    device.send("tot_posttest", {"participant_code": "P1", "sex": "female", "score": "7"})
    gain = indicator(admin.get(f"/v1/projects/{project}/evaluation").get_json(), "knowledge_gain")
    assert gain["waitingFor"] is None
    assert {m["measure"]: m["value"] for m in gain["measures"]}["mean_change"] == 3


def test_a_late_baseline_form_must_have_what_the_change_compares(admin: Api, project: int) -> None:
    published(admin, project, posttest())
    without_score = [q for q in BASE_QUESTIONS if q[1] != "score"]
    response = upload(admin, project, workbook("tot_pretest", questions=without_score))
    problems = _problems(response)
    assert problems == [
        {
            "sheet": "survey",
            "row": None,
            "column": None,
            "message": "the indicator 'knowledge_gain' of form 'tot_posttest' compares the"
            " numeric question 'score' with this form, which has no numeric question named"
            " 'score'; add it, or change that indicator first",
        }
    ]
    # With the question, the baseline form is accepted and the change computed.
    published(admin, project, pretest())


def test_a_baseline_form_keeps_the_key_in_new_versions(admin: Api, project: int) -> None:
    published(admin, project, pretest())
    published(admin, project, posttest())
    without_code = [q for q in BASE_QUESTIONS if q[1] != "participant_code"]
    response = admin.post(
        f"/v1/projects/{project}/forms/tot_pretest/draft",
        data=workbook("tot_pretest", questions=without_code, version="2"),
        headers={"Content-Type": XLSX},
    )
    problems = _problems(response)
    assert "links persons by 'participant_code'" in problems[0]["message"]


def test_worked_sheet_is_accepted(admin: Api, project: int) -> None:
    published(admin, project, pretest())
    assert upload(admin, project, posttest(WORKED_INDICATORS)).status_code == 200
