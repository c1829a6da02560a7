"""The worked example of evaluation.md through HTTP: forms uploaded, phones sending, reports read.

The expected numbers are the spec's, written out by hand; both suppression settings.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl

from tests.evaluation.conftest import Phone, set_min_cell
from tests.helpers import XLSX, Api

HEADER = "section,indicator,label,type,measure,dimension,category,category_label,value,n,target"
KG = "impact,knowledge_gain,Change in knowledge score,change"
TRAINED = "participation,trained,Officials trained,distinct,distinct"
MEASURES = (
    "mean_change",
    "baseline_mean",
    "endline_mean",
    "percent_improved",
    "pairs",
    "unmatched_endline",
)


def _change_rows(category: str, label: str, values: tuple[str, ...], ns: tuple[str, ...]) -> str:
    return "".join(
        f"{KG},{m},sex,{category},{label},{v},{n},2,{'true' if n == '' else 'false'}\n"
        for m, v, n in zip(MEASURES, values, ns, strict=True)
    )


# min_cell = 0: nothing is hidden.
EXPECTED_0 = (
    f"{HEADER},suppressed\n"
    f"{TRAINED},,,,6,6,8,false\n"
    f"{TRAINED},sex,female,Female,3,3,8,false\n"
    f"{TRAINED},sex,male,Male,3,3,8,false\n"
    f"{TRAINED},sex,other,Other,0,0,8,false\n"
    f"{TRAINED},institution,government,Government,3,3,8,false\n"
    f"{TRAINED},institution,nhri,NHRI,1,1,8,false\n"
    f"{TRAINED},institution,cso,Civil society,2,2,8,false\n"
    "participation,women_share,Share of women,percent,percent,,,,50,6,50,false\n"
    f"{KG},mean_change,,,,2.2,5,2,false\n"
    f"{KG},baseline_mean,,,,5,5,2,false\n"
    f"{KG},endline_mean,,,,7.2,5,2,false\n"
    f"{KG},percent_improved,,,,80,5,2,false\n"
    f"{KG},pairs,,,,5,5,2,false\n"
    f"{KG},unmatched_endline,,,,1,1,2,false\n"
    f"{KG},unmatched_baseline,,,,1,1,2,false\n"
    # female: P1 +4, P2 +1, P5 +2 -> 7/3; male: P3 0, P4 +4 -> 2.0, and P7 unmatched.
    + _change_rows(
        "female", "Female", ("2.333", "5.333", "7.667", "100", "3", "0"), ("3",) * 5 + ("0",)
    )
    + _change_rows("male", "Male", ("2", "4.5", "6.5", "50", "2", "1"), ("2",) * 5 + ("1",))
    + _change_rows("other", "Other", ("", "", "", "", "0", "0"), ("0",) * 6)
    + "impact,satisfied,Satisfied (4\N{EN DASH}5 of 5),percent,percent,,,,66.667,6,80,false\n"
)


def _suppressed_2(expected: str) -> str:
    """The same report with min_cell = 2, derived line by line from the spec's rules."""
    hidden = {
        # nhri (1) is under 2; cso (2) is the smallest other non-zero cell of the block.
        f"{TRAINED},institution,nhri,NHRI,1,1,8,false": f"{TRAINED},institution,nhri,NHRI,,,8,true",
        f"{TRAINED},institution,cso,Civil society,2,2,8,false": (
            f"{TRAINED},institution,cso,Civil society,,,8,true"
        ),
        # One person is described by each of these; each is the only small cell, and the
        # unmatched total is hidden itself, so nothing needs hiding beside them.
        f"{KG},unmatched_endline,,,,1,1,2,false": f"{KG},unmatched_endline,,,,,,2,true",
        f"{KG},unmatched_baseline,,,,1,1,2,false": f"{KG},unmatched_baseline,,,,,,2,true",
        f"{KG},unmatched_endline,sex,male,Male,1,1,2,false": (
            f"{KG},unmatched_endline,sex,male,Male,,,2,true"
        ),
    }
    lines = expected.splitlines()
    assert all(old in lines for old in hidden)
    return "".join(f"{hidden.get(line, line)}\n" for line in lines)


def _csv(admin: Api, pid: int, query: str = "") -> str:
    response = admin.get(f"/v1/projects/{pid}/evaluation.csv{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    return response.get_data(as_text=True).replace("\r\n", "\n")


def _json(admin: Api, pid: int, query: str = "") -> dict[str, Any]:
    response = admin.get(f"/v1/projects/{pid}/evaluation{query}")
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def indicator(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        i for s in report["sections"] for i in s["indicators"] if i["name"] == name
    )
    return found


def block(result: dict[str, Any], dimension: str, measure: str) -> dict[str, Any]:
    rows = next(b["rows"] for b in result["blocks"] if b["dimension"] == dimension)
    return {r["category"]: r for r in rows if r["measure"] == measure}


def test_csv_min_cell_0(admin: Api, project: int, worked: Phone) -> None:
    set_min_cell(admin, project, 0)
    assert _csv(admin, project) == EXPECTED_0


def test_csv_min_cell_2(admin: Api, project: int, worked: Phone) -> None:
    set_min_cell(admin, project, 2)
    assert _csv(admin, project) == _suppressed_2(EXPECTED_0)


def test_csv_parses_as_tidy_data(admin: Api, project: int, worked: Phone) -> None:
    rows = list(csv.DictReader(io.StringIO(_csv(admin, project))))
    assert {len(r) for r in rows} == {12}
    assert {r["suppressed"] for r in rows} <= {"true", "false"}


def test_json_min_cell_0(admin: Api, project: int, worked: Phone) -> None:
    set_min_cell(admin, project, 0)
    report = _json(admin, project)
    assert report["minCell"] == 0
    assert [s["name"] for s in report["sections"]] == ["participation", "impact"]
    trained = indicator(report, "trained")
    assert trained["total"] == {"measure": "distinct", "value": 6, "n": 6, "suppressed": False}
    assert (trained["target"], trained["achievement"]) == (8, 75)
    assert {c: r["value"] for c, r in block(trained, "sex", "distinct").items()} == {
        "female": 3,
        "male": 3,
        "other": 0,
    }
    assert {c: r["value"] for c, r in block(trained, "institution", "distinct").items()} == {
        "government": 3,
        "nhri": 1,
        "cso": 2,
    }
    women = indicator(report, "women_share")
    assert (women["total"]["value"], women["total"]["n"]) == (50, 6)
    gain = indicator(report, "knowledge_gain")
    assert gain["waitingFor"] is None
    assert {m["measure"]: m["value"] for m in gain["measures"]} == {
        "mean_change": 2.2,
        "baseline_mean": 5,
        "endline_mean": 7.2,
        "percent_improved": 80,
        "pairs": 5,
        "unmatched_endline": 1,
        "unmatched_baseline": 1,
    }
    by_sex = block(gain, "sex", "mean_change")
    assert (by_sex["female"]["value"], by_sex["female"]["n"]) == (2.333, 3)
    assert (by_sex["male"]["value"], by_sex["male"]["n"]) == (2, 2)
    assert (by_sex["other"]["value"], by_sex["other"]["n"]) == (None, 0)
    satisfied = indicator(report, "satisfied")
    assert (satisfied["total"]["value"], satisfied["total"]["n"]) == (66.667, 6)


def test_json_min_cell_2(admin: Api, project: int, worked: Phone) -> None:
    set_min_cell(admin, project, 2)
    report = _json(admin, project)
    assert report["minCell"] == 2
    trained = indicator(report, "trained")
    institution = block(trained, "institution", "distinct")
    assert institution["government"] == {
        "measure": "distinct",
        "category": "government",
        "categoryLabel": "Government",
        "value": 3,
        "n": 3,
        "suppressed": False,
    }
    for hidden in ("nhri", "cso"):
        assert institution[hidden]["suppressed"] is True
        assert (institution[hidden]["value"], institution[hidden]["n"]) == (None, None)
    sex = block(trained, "sex", "distinct")
    assert not any(r["suppressed"] for r in sex.values())
    assert trained["total"]["value"] == 6


def test_default_min_cell_is_5(admin: Api, project: int, worked: Phone) -> None:
    report = _json(admin, project)
    assert report["minCell"] == 5
    trained = indicator(report, "trained")
    assert trained["total"]["value"] == 6
    sex = block(trained, "sex", "distinct")
    # 3 and 3 are both small: hidden, and no complement is needed; 0 is never hidden.
    assert [(r["value"], r["suppressed"]) for r in sex.values()] == [
        (None, True),
        (None, True),
        (0, False),
    ]


def test_workbook(admin: Api, project: int, worked: Phone) -> None:
    set_min_cell(admin, project, 2)
    response = admin.get(f"/v1/projects/{project}/evaluation.xlsx")
    assert response.status_code == 200
    assert response.mimetype == XLSX
    assert "evaluation" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()), read_only=True)
    assert book.sheetnames == ["Participation", "Impact"]
    participation = [
        [c for c in row if c is not None]
        for row in book["Participation"].iter_rows(values_only=True)
    ]
    assert ["Indicator", "Value", "n", "Target", "Achievement against target (%)"] in participation
    assert ["Officials trained", 6, 6, 8, 75] in participation
    assert ["Share of women", 50, 6, 50, 100] in participation
    assert ["Government", 3, 3] in participation
    assert ["NHRI", "suppressed", "suppressed"] in participation
    assert ["Civil society", "suppressed", "suppressed"] in participation
    impact = [
        [c for c in row if c is not None] for row in book["Impact"].iter_rows(values_only=True)
    ]
    assert ["Change in knowledge score", 2.2, 5, 2, 110] in impact
    assert ["Mean change", 2.2, 5] in impact
    assert ["Satisfied (4\N{EN DASH}5 of 5)", 66.667, 6, 80, 83.333] in impact
    book.close()


def test_french_labels(admin: Api, project: int, worked: Phone) -> None:
    set_min_cell(admin, project, 0)
    report = _json(admin, project, "?lang=fr")
    trained = indicator(report, "trained")
    assert trained["label"] == "Fonctionnaires formés"
    sex_block = next(b for b in trained["blocks"] if b["dimension"] == "sex")
    assert sex_block["label"] == "Sexe"
    assert [r["categoryLabel"] for r in sex_block["rows"]] == ["Femme", "Homme", "Autre"]
    institution = block(trained, "institution", "distinct")
    assert institution["cso"]["categoryLabel"] == "Société civile"
    csv_text = _csv(admin, project, "?lang=French (fr)")
    assert "participation,trained,Fonctionnaires formés,distinct,distinct,sex,female,Femme," in (
        csv_text
    )
    # Without a language, the form's default language (English) is used.
    assert indicator(_json(admin, project), "trained")["label"] == "Officials trained"
