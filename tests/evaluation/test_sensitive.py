"""Indicators and sensitive questions: refused at upload unless restricted, and restricted
indicators shown to project managers only, in the JSON, the CSV, the workbook and the page."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from collect.domain.evaluation.indicators import COLUMNS
from tests.conftest import make_user
from tests.evaluation.conftest import Phone, upload
from tests.helpers import XLSX, Api
from tests.pages.conftest import signed_in
from tests.workbooks import Rows, xlsx

SURVEY: Rows = [
    ("type", "name", "label", "sensitive"),
    ("text", "observer_code", "Observer code", "yes"),
    ("select_one ethnicity", "ethnicity", "Ethnicity", "yes"),
    ("begin_group", "victim", "Victim", "yes"),
    ("integer", "age", "Age", ""),
    ("end_group", "", "", ""),
    ("select_one region", "region", "Region", ""),
    ("select_one yn", "followup", "Follow-up needed?", ""),
    ("integer", "score", "Score", ""),
]
CHOICES: Rows = [
    ("list_name", "name", "label"),
    ("ethnicity", "a", "Group A"),
    ("ethnicity", "b", "Group B"),
    ("region", "kara", "Kara"),
    ("region", "lome", "Lomé"),
    ("yn", "yes", "Yes"),
    ("yn", "no", "No"),
]
COUNT = {"name": "reports", "section": "participation", "label": "Reports", "type": "count"}


def form(
    form_id: str,
    indicators: Sequence[dict[str, Any]],
    *,
    survey: Rows = SURVEY,
    version: str = "1",
) -> bytes:
    """A monitoring form whose indicators sheet has one row per dict (by column)."""
    columns = COLUMNS
    return xlsx(
        survey,
        choices=CHOICES,
        settings=[("form_id", "version"), (form_id, version)],
        extra={"indicators": [columns, *(tuple(i.get(c) for c in columns) for i in indicators)]},
    )


def problems(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 400, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["details"]["problems"]
    return found


REFERENCES = [
    pytest.param({"type": "mean", "field": "age"}, "field", "age", id="field-in-a-group"),
    pytest.param({"type": "count", "by": "ethnicity"}, "by", "ethnicity", id="by"),
    pytest.param({"type": "count", "by": "region*ethnicity"}, "by", "ethnicity", id="by-cross"),
    pytest.param(
        {"type": "count", "where": "${observer_code} = 'OBS-1'"},
        "where",
        "observer_code",
        id="where",
    ),
    pytest.param(
        {"type": "percent", "field": "followup", "condition": "${ethnicity} = 'a'"},
        "condition",
        "ethnicity",
        id="condition",
    ),
    pytest.param(
        {"type": "change", "field": "score", "key": "observer_code", "baseline_form": "pre"},
        "key",
        "observer_code",
        id="key",
    ),
]


@pytest.mark.parametrize(("cells", "column", "question"), REFERENCES)
def test_an_indicator_on_a_sensitive_question_is_refused_at_upload(
    admin: Api, project: int, cells: dict[str, Any], column: str, question: str
) -> None:
    probe = {"name": "probe", "section": "impact", "label": "Probe", **cells}
    refused = upload(admin, project, form("monitoring", [COUNT, probe]))
    (problem,) = problems(refused)
    assert (problem["sheet"], problem["row"], problem["column"]) == ("indicators", 3, column)
    assert f"'{question}' is a sensitive question" in problem["message"]
    assert "restricted column" in problem["message"]
    restricted = upload(admin, project, form("monitoring", [COUNT, {**probe, "restricted": "yes"}]))
    assert restricted.status_code == 200, restricted.get_json()


def test_restricted_must_be_yes_or_no(admin: Api, project: int) -> None:
    (problem,) = problems(upload(admin, project, form("m", [{**COUNT, "restricted": "maybe"}])))
    assert (problem["row"], problem["column"]) == (2, "restricted")
    assert "restricted is yes or no, not 'maybe'" in problem["message"]


def test_a_key_the_baseline_form_marks_sensitive_is_refused_both_ways(
    admin: Api, project: int
) -> None:
    code_only_in = [("text", "code", "Code", ""), ("integer", "score", "Score", "")]
    baseline = [
        ("type", "name", "label", "sensitive"),
        ("text", "code", "Code", "yes"),
        *code_only_in[1:],
    ]
    endline = [("type", "name", "label", "sensitive"), *code_only_in]
    gain = {
        "name": "gain",
        "section": "impact",
        "label": "Gain",
        "type": "change",
        "field": "score",
        "key": "code",
    }
    assert upload(admin, project, form("pre", [], survey=baseline)).status_code == 200
    refused = upload(
        admin, project, form("post", [{**gain, "baseline_form": "pre"}], survey=endline)
    )
    (problem,) = problems(refused)
    assert (problem["row"], problem["column"]) == (2, "key")
    assert "sensitive question of the baseline form 'pre'" in problem["message"]
    # The other way round: the endline form first, then a baseline version that marks the key.
    other = {**gain, "name": "gain2", "baseline_form": "pre2"}
    assert upload(admin, project, form("post2", [other], survey=endline)).status_code == 200
    (problem,) = problems(upload(admin, project, form("pre2", [], survey=baseline)))
    assert problem["sheet"] == "survey"
    assert "reads 'code', which this form marks sensitive" in problem["message"]


@pytest.fixture
def monitored(
    app: Flask, client: FlaskClient, admin: Api, project: int, app_user: Any
) -> dict[str, Any]:
    """The form with a plain and a restricted indicator, six reports, a viewer and a manager."""
    mean_age = {
        "name": "victim_age",
        "section": "impact",
        "label": "MEAN-AGE-OF-VICTIMS",
        "type": "mean",
        "field": "age",
        "by": "ethnicity",
        "restricted": "yes",
    }
    response = upload(admin, project, form("monitoring", [COUNT, mean_age]))
    assert response.status_code == 200, response.get_json()
    admin.patch(f"/v1/projects/{project}", json={"minCell": 0})
    phone = Phone(client, project, app_user("monitoring")["token"])
    for n, (ethnicity, age) in enumerate([("a", 30), ("a", 40), ("b", 50)] * 2):
        # The age sits in the sensitive group `victim`; Phone.send writes values as given.
        phone.send(
            "monitoring",
            {"observer_code": f"OBS-{n}", "ethnicity": ethnicity, "victim": f"<age>{age}</age>"}
            | {"region": "kara", "followup": "yes", "score": "3"},
        )
    readers = {}
    for role in ("viewer", "manager"):
        actor_id, api = make_user(app, client, f"{role}@example.org")
        admin.post(f"/v1/projects/{project}/assignments/{role}/{actor_id}")
        readers[role] = (api, signed_in(app, f"{role}@example.org", "a long password"))
    return {"pid": project, "readers": readers}


def _xlsx_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())


def test_restricted_indicators_are_shown_to_managers_only(monitored: dict[str, Any]) -> None:
    pid = monitored["pid"]
    report = f"/v1/projects/{pid}/evaluation"
    for role, shown in (("viewer", False), ("manager", True)):
        api, browser = monitored["readers"][role]
        body = api.get(report).get_json()
        names = [i["name"] for s in body["sections"] for i in s["indicators"]]
        assert names == (["reports", "victim_age"] if shown else ["reports"])
        assert body["withheld"] == (0 if shown else 1)
        restricted = {i["name"]: i["restricted"] for s in body["sections"] for i in s["indicators"]}
        assert restricted["reports"] is False
        assert ("MEAN-AGE-OF-VICTIMS" in api.get(f"{report}.csv").data.decode()) is shown
        assert ("MEAN-AGE-OF-VICTIMS" in _xlsx_text(api.get(f"{report}.xlsx").data)) is shown
        page = browser.text(f"/projects/{pid}/evaluation")
        assert ("MEAN-AGE-OF-VICTIMS" in page) is shown
        assert ("Shown to project managers only" in page) is shown
        assert ("1 more indicator of this project is shown to project managers only" in page) is (
            not shown
        )
    manager = monitored["readers"]["manager"][0].get(report).get_json()
    (mean,) = [i for s in manager["sections"] for i in s["indicators"] if i["name"] == "victim_age"]
    assert mean["restricted"] is True
    assert mean["total"]["value"] == 40  # the ages inside the sensitive group, all read


def test_a_question_marked_sensitive_later_takes_its_indicators_from_viewers(
    app: Flask, client: FlaskClient, admin: Api, project: int
) -> None:
    """The report asks the rule, not only the upload: a draft that marks `score` sensitive
    withdraws the published version's indicator on it from viewers at once."""
    unmarked = [row if row[1] != "score" else ("integer", "score", "Score", "") for row in SURVEY]
    mean_score = {
        "name": "mean_score",
        "section": "impact",
        "label": "Mean score",
        "type": "mean",
        "field": "score",
    }
    assert (
        upload(admin, project, form("m", [COUNT, mean_score], survey=unmarked)).status_code == 200
    )
    actor_id, viewer = make_user(app, client, "viewer@example.org")
    admin.post(f"/v1/projects/{project}/assignments/viewer/{actor_id}")
    report = f"/v1/projects/{project}/evaluation"

    def names() -> list[str]:
        body = viewer.get(report).get_json()
        return [i["name"] for s in body["sections"] for i in s["indicators"]]

    assert names() == ["reports", "mean_score"]
    marked = [row if row[1] != "score" else ("integer", "score", "Score", "yes") for row in SURVEY]
    draft = admin.post(
        f"/v1/projects/{project}/forms/m/draft",
        data=form("m", [COUNT], survey=marked, version="2"),
        headers={"Content-Type": XLSX},
    )
    assert draft.status_code == 200, draft.get_json()
    assert names() == ["reports"]
    assert viewer.get(report).get_json()["withheld"] == 1
    assert [
        i["name"] for s in admin.get(report).get_json()["sections"] for i in s["indicators"]
    ] == [
        "reports",
        "mean_score",
    ]
