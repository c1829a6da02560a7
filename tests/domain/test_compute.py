"""Evaluation reports: the spec's worked example, each type, disaggregation and suppression rule."""

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collect.domain.evaluation import compute, indicators, render
from collect.domain.evaluation.compute import Record, Report, Row
from collect.domain.evaluation.indicators import Choice, Indicator, Question, SheetRow

T0 = datetime(2024, 5, 1, 9, tzinfo=UTC)
SATISFIED = "Satisfied (4\N{EN DASH}5 of 5)"


def _choices(*pairs: tuple[str, str, str]) -> tuple[Choice, ...]:
    return tuple(Choice(n, {"English (en)": en, "French (fr)": fr}) for n, en, fr in pairs)


SEX = Question(
    "sex",
    "select_one",
    _choices(("female", "Female", "Femme"), ("male", "Male", "Homme"), ("other", "Other", "Autre")),
    {"English (en)": "Sex", "French (fr)": "Sexe"},
)
INSTITUTION = Question(
    "institution",
    "select_one",
    _choices(
        ("government", "Government", "Gouvernement"),
        ("nhri", "NHRI", "INDH"),
        ("cso", "Civil society", "Société civile"),
    ),
    {"English (en)": "Institution"},
)
PRETEST = {
    "participant_code": Question("participant_code", "text"),
    "sex": SEX,
    "institution": INSTITUTION,
    "score": Question("score", "integer"),
}
POSTTEST = {**PRETEST, "satisfaction": Question("satisfaction", "integer")}

SHEET = [
    {
        "name": "trained",
        "section": "participation",
        "label": "Officials trained",
        "label::French (fr)": "Fonctionnaires formés",
        "type": "distinct",
        "field": "participant_code",
        "by": "sex institution",
        "target": "8",
    },
    {
        "name": "women_share",
        "section": "participation",
        "label": "Share of women",
        "type": "percent",
        "field": "sex",
        "condition": "${sex} = 'female'",
        "target": "50",
    },
    {
        "name": "knowledge_gain",
        "section": "impact",
        "label": "Change in knowledge score",
        "type": "change",
        "field": "score",
        "by": "sex",
        "baseline_form": "tot_pretest",
        "key": "participant_code",
        "target": "2",
    },
    {
        "name": "satisfied",
        "section": "impact",
        "label": SATISFIED,
        "type": "percent",
        "field": "satisfaction",
        "condition": "${satisfaction} >= 4",
        "target": "80",
    },
]


def _records(rows: Sequence[tuple[str, ...]], columns: tuple[str, ...]) -> list[Record]:
    return [
        compute.record(f"uuid:{i}", T0 + timedelta(minutes=i), dict(zip(columns, row, strict=True)))
        for i, row in enumerate(rows)
    ]


PRE = _records(
    [
        ("P1", "female", "government", "4"),
        ("P2", "female", "nhri", "5"),
        ("P3", "male", "government", "6"),
        ("P4", "male", "cso", "3"),
        ("P5", "female", "cso", "7"),
        ("P6", "female", "government", "2"),
    ],
    ("participant_code", "sex", "institution", "score"),
)
POST = _records(
    [
        ("P1", "female", "government", "8", "5"),
        ("P2", "female", "nhri", "6", "4"),
        ("P3", "male", "government", "6", "3"),
        ("P4", "male", "cso", "7", "5"),
        ("P5", "female", "cso", "9", "4"),
        ("P7", "male", "government", "5", "2"),
    ],
    ("participant_code", "sex", "institution", "score", "satisfaction"),
)


def _worked(min_cell: int, lang: str | None = None) -> Report:
    rows = [SheetRow(i, cells) for i, cells in enumerate(SHEET, start=2)]
    parsed = indicators.parse(
        rows,
        POSTTEST,
        form_id="tot_posttest",
        project_forms={"tot_pretest": PRETEST},
        taken_names=set(),
    )
    return compute.build(
        parsed,
        {"tot_pretest": PRE, "tot_posttest": POST},
        {i.name: "tot_posttest" for i in parsed},
        {"tot_pretest": PRETEST, "tot_posttest": POSTTEST},
        min_cell=min_cell,
        lang=lang,
    )


def _values(rows: tuple[Row, ...], measure: str | None = None) -> dict[str, float | None]:
    return {r.category: r.value for r in rows if measure is None or r.measure == measure}


def _block(result: compute.IndicatorReport, dimension: str) -> tuple[Row, ...]:
    return next(b.rows for b in result.blocks if b.dimension == dimension)


def _total(result: compute.IndicatorReport, measure: str) -> Row:
    return next(r for r in result.total if r.measure == measure)


# The worked example, number for number --------------------------------------------------------


def test_worked_example_participation() -> None:
    result = _worked(min_cell=0)
    trained = result.indicator("trained")
    assert (trained.headline.value, trained.headline.n) == (6, 6)
    assert (trained.target, trained.achievement) == (8, 75)
    assert _values(_block(trained, "sex")) == {"female": 3, "male": 3, "other": 0}
    assert _values(_block(trained, "institution")) == {"government": 3, "nhri": 1, "cso": 2}
    women = result.indicator("women_share")
    assert (women.headline.value, women.headline.n, women.achievement) == (50, 6, 100)


def test_worked_example_impact() -> None:
    result = _worked(min_cell=0)
    gain = result.indicator("knowledge_gain")
    assert {r.measure: r.value for r in gain.total} == {
        "mean_change": pytest.approx(2.2),
        "baseline_mean": 5.0,
        "endline_mean": 7.2,
        "percent_improved": 80.0,
        "pairs": 5,
        "unmatched_endline": 1,
        "unmatched_baseline": 1,
    }
    assert _total(gain, "mean_change").n == 5
    assert gain.achievement == pytest.approx(110)
    by_sex = _block(gain, "sex")
    assert _values(by_sex, "mean_change") == {
        "female": pytest.approx(7 / 3),
        "male": 2.0,
        "other": None,
    }
    assert _values(by_sex, "pairs") == {"female": 3, "male": 2, "other": 0}
    assert _values(by_sex, "unmatched_endline") == {"female": 0, "male": 1, "other": 0}
    satisfied = result.indicator("satisfied")
    assert satisfied.headline.value == pytest.approx(66.667, abs=0.001)
    assert satisfied.headline.n == 6


def test_worked_example_min_cell_2() -> None:
    result = _worked(min_cell=2)
    trained = result.indicator("trained")
    institution = {r.category: r for r in _block(trained, "institution")}
    assert institution["nhri"] == Row("distinct", "institution", "nhri", "NHRI", None, None, True)
    assert institution["cso"].suppressed  # the smallest other non-zero category
    assert (institution["government"].value, institution["government"].suppressed) == (3, False)
    assert not any(r.suppressed for r in _block(trained, "sex"))
    assert not trained.headline.suppressed
    gain = result.indicator("knowledge_gain")
    assert not _total(gain, "mean_change").suppressed
    assert _total(gain, "unmatched_endline").suppressed  # describes one person: P7


def test_worked_example_tidy_csv() -> None:
    rows = list(render.tidy_rows(_worked(min_cell=2)))
    assert rows[0] == [
        "section",
        "indicator",
        "label",
        "type",
        "measure",
        "dimension",
        "category",
        "category_label",
        "value",
        "n",
        "target",
        "suppressed",
    ]
    start = ["participation", "trained", "Officials trained", "distinct", "distinct"]
    assert [*start, "", "", "", "6", "6", "8", "false"] in rows
    assert [*start, "sex", "other", "Other", "0", "0", "8", "false"] in rows
    assert [*start, "institution", "government", "Government", "3", "3", "8", "false"] in rows
    assert [*start, "institution", "nhri", "NHRI", "", "", "8", "true"] in rows
    assert [*start, "institution", "cso", "Civil society", "", "", "8", "true"] in rows
    women = ["participation", "women_share", "Share of women", "percent", "percent"]
    assert [*women, "", "", "", "50", "6", "50", "false"] in rows
    gain = ["impact", "knowledge_gain", "Change in knowledge score", "change"]
    assert [*gain, "mean_change", "", "", "", "2.2", "5", "2", "false"] in rows
    assert [*gain, "baseline_mean", "", "", "", "5", "5", "2", "false"] in rows
    assert [*gain, "endline_mean", "", "", "", "7.2", "5", "2", "false"] in rows
    assert [*gain, "percent_improved", "", "", "", "80", "5", "2", "false"] in rows
    assert [*gain, "pairs", "", "", "", "5", "5", "2", "false"] in rows
    assert [*gain, "mean_change", "sex", "female", "Female", "2.333", "3", "2", "false"] in rows
    assert [*gain, "mean_change", "sex", "male", "Male", "2", "2", "2", "false"] in rows
    assert [*gain, "mean_change", "sex", "other", "Other", "", "0", "2", "false"] in rows
    satisfied = ["impact", "satisfied", SATISFIED, "percent", "percent"]
    assert [*satisfied, "", "", "", "66.667", "6", "80", "false"] in rows
    # trained: 1 total + 3 sex + 3 institution; women_share: 1; change: 7 totals + 3 x 6.
    assert len(rows) == 1 + 7 + 1 + (7 + 18) + 1


def test_worked_example_tidy_csv_without_suppression() -> None:
    rows = list(render.tidy_rows(_worked(min_cell=0)))
    start = ["participation", "trained", "Officials trained", "distinct", "distinct"]
    assert [*start, "institution", "nhri", "NHRI", "1", "1", "8", "false"] in rows
    gain = ["impact", "knowledge_gain", "Change in knowledge score", "change"]
    assert [*gain, "unmatched_endline", "", "", "", "1", "1", "2", "false"] in rows
    assert [*gain, "unmatched_baseline", "", "", "", "1", "1", "2", "false"] in rows
    assert all(row[-1] == "false" for row in rows[1:])


def test_labels_in_french() -> None:
    trained = _worked(min_cell=0, lang="fr").indicator("trained")
    assert trained.label == "Fonctionnaires formés"
    sex = next(b for b in trained.blocks if b.dimension == "sex")
    assert sex.label == "Sexe"
    assert [r.category_label for r in sex.rows] == ["Femme", "Homme", "Autre"]
    institution = next(b for b in trained.blocks if b.dimension == "institution")
    assert institution.label == "Institution"  # no French label: the first language
    women = _worked(min_cell=0, lang="French (fr)").indicator("women_share")
    assert women.label == "Share of women"  # no French label: the default


# One indicator at a time ---------------------------------------------------------------------

FORM = {
    "code": Question("code", "text"),
    "sex": SEX,
    "institution": INSTITUTION,
    "age": Question("age", "integer"),
    "attendees": Question("attendees", "integer"),
    "topics": Question(
        "topics",
        "select_multiple",
        _choices(("law", "Law", "Droit"), ("ethics", "Ethics", "Éthique"), ("ict", "ICT", "TIC")),
    ),
}
COLUMNS = ("code", "sex", "institution", "age", "attendees", "topics")


def _build(
    indicator: Indicator,
    rows: Sequence[tuple[str, ...]],
    *,
    min_cell: int = 0,
    lang: str | None = None,
    baseline: list[Record] | None = None,
    forms: dict[str, dict[str, Question]] | None = None,
) -> compute.IndicatorReport:
    records = {"form": _records(rows, COLUMNS), "pre": baseline or []}
    questions = forms if forms is not None else {"form": FORM, "pre": FORM}
    built = compute.build(
        [indicator],
        records,
        {indicator.name: "form"},
        questions,
        min_cell=min_cell,
        lang=lang,
    )
    return built.indicator(indicator.name)


def _indicator(kind: str, **fields: object) -> Indicator:
    return Indicator.from_dict(
        {
            "name": "x",
            "section": "participation",
            "labels": {"default": "X"},
            "type": kind,
            **fields,
        }
    )


PEOPLE = [
    ("A", "female", "government", "17", "10", "law ethics"),
    ("B", "female", "nhri", "24", "5", "law"),
    ("C", "male", "government", "61", "", ""),
    ("D", "", "cso", "", "x", "ict law"),
    ("E", "female", "government", "30", "7", "ethics"),
]


def test_count() -> None:
    result = _build(_indicator("count"), PEOPLE)
    assert (result.headline.measure, result.headline.value, result.headline.n) == ("count", 5, 5)


def test_count_with_where() -> None:
    result = _build(_indicator("count", where="${age} >= 18 and ${sex} != ''"), PEOPLE)
    assert result.headline.value == 3  # B, C, E


def test_distinct_places_a_person_by_latest_submission() -> None:
    rows = [
        ("A", "female", "", "", "", ""),
        (" a ", "male", "", "", "", ""),  # the same person, typed differently, later
        ("B", "female", "", "", "", ""),
        ("", "female", "", "", "", ""),  # no code: not a person to count
    ]
    result = _build(_indicator("distinct", field="code", by=["sex"]), rows)
    assert (result.headline.value, result.headline.n) == (2, 2)
    assert _values(result.blocks[0].rows) == {"female": 1, "male": 1, "other": 0}


def test_distinct_latest_is_by_time_received() -> None:
    records = [
        compute.record("s2", T0 + timedelta(hours=1), {"code": "A", "sex": "male"}),
        compute.record("s1", T0, {"code": "A", "sex": "female"}),
    ]
    indicator = _indicator("distinct", field="code", by=["sex"])
    built = compute.build(
        [indicator], {"form": records}, {"x": "form"}, {"form": FORM}, min_cell=0, lang=None
    )
    assert _values(built.indicator("x").blocks[0].rows) == {"female": 0, "male": 1, "other": 0}


def test_sum() -> None:
    result = _build(_indicator("sum", field="attendees"), PEOPLE)
    assert (result.headline.value, result.headline.n) == (22, 3)  # "" and "x" are not answers


def test_mean() -> None:
    result = _build(_indicator("mean", field="age"), PEOPLE)
    assert result.headline.value == pytest.approx((17 + 24 + 61 + 30) / 4)
    assert result.headline.n == 4


def test_mean_of_nothing_is_empty() -> None:
    result = _build(_indicator("mean", field="age"), [])
    assert (result.headline.value, result.headline.n, result.achievement) == (None, 0, None)


def test_percent_counts_only_answered_submissions() -> None:
    indicator = _indicator("percent", field="sex", condition="${sex} = 'female'", target=50)
    result = _build(indicator, PEOPLE)
    assert (result.headline.value, result.headline.n) == (75, 4)
    assert result.achievement == 150


def test_change_pairs_latest_submissions_per_key() -> None:
    baseline = [
        compute.record("b1", T0, {"code": "A", "age": "10"}),
        compute.record(
            "b2", T0 + timedelta(hours=1), {"code": "A", "age": "20"}
        ),  # latest baseline
        compute.record("b3", T0, {"code": "B", "age": ""}),  # not answered: B is not paired
    ]
    rows = [
        ("A", "female", "", "30", "", ""),
        ("B", "male", "", "40", "", ""),
        ("C", "male", "", "50", "", ""),
    ]
    indicator = _indicator("change", field="age", baseline_form="pre", key="code", by=["sex"])
    result = _build(indicator, rows, baseline=baseline)
    totals = {r.measure: (r.value, r.n) for r in result.total}
    assert totals == {
        "mean_change": (10, 1),
        "baseline_mean": (20, 1),
        "endline_mean": (30, 1),
        "percent_improved": (100, 1),
        "pairs": (1, 1),
        "unmatched_endline": (2, 2),
        "unmatched_baseline": (0, 0),
    }
    by_sex = result.blocks[0].rows
    assert _values(by_sex, "unmatched_endline") == {"female": 0, "male": 2, "other": 0}
    assert "unmatched_baseline" not in {r.measure for r in by_sex}


def test_change_waits_for_its_baseline_form() -> None:
    indicator = _indicator("change", field="age", baseline_form="later", key="code")
    result = _build(indicator, PEOPLE, forms={"form": FORM})
    assert result.waiting_for == "later"
    assert [r.measure for r in result.total] == list(compute.CHANGE_MEASURES)
    assert all(r.value is None for r in result.total)
    assert result.blocks == ()
    assert (
        render.to_json(
            compute.build([indicator], {}, {"x": "form"}, {"form": FORM}, min_cell=5, lang=None)
        )["sections"][0]["indicators"][0]["waitingFor"]
        == "later"
    )


# Disaggregation ------------------------------------------------------------------------------


def test_select_one_lists_every_choice_and_no_answer() -> None:
    result = _build(_indicator("count", by=["sex"]), PEOPLE)
    (block,) = result.blocks
    assert (block.dimension, block.label) == ("sex", "Sex")
    assert [(r.category, r.category_label, r.value) for r in block.rows] == [
        ("female", "Female", 3),
        ("male", "Male", 1),
        ("other", "Other", 0),
        ("(no answer)", "(no answer)", 1),
    ]


def test_select_one_without_missing_answers_has_no_no_answer_row() -> None:
    result = _build(_indicator("count", by=["institution"]), PEOPLE)
    assert [r.category for r in result.blocks[0].rows] == ["government", "nhri", "cso"]


def test_select_one_keeps_answers_outside_the_list() -> None:
    rows = [("A", "female", "", "", "", ""), ("B", "intersex", "", "", "", "")]
    result = _build(_indicator("count", by=["sex"]), rows)
    assert _values(result.blocks[0].rows) == {"female": 1, "male": 0, "other": 0, "intersex": 1}


def test_select_multiple_counts_every_selected_choice() -> None:
    result = _build(_indicator("count", by=["topics"]), PEOPLE)
    assert _values(result.blocks[0].rows) == {"law": 3, "ethics": 2, "ict": 1, "(no answer)": 1}


def test_numeric_bands() -> None:
    rows = [*PEOPLE, ("F", "male", "", "18", "", ""), ("G", "male", "", "-1", "", "")]
    result = _build(_indicator("count", by=["age:0-17,18-24,25-59,60+"]), rows)
    (block,) = result.blocks
    assert block.label == "age"  # the question has no label
    assert _values(block.rows) == {
        "0-17": 1,
        "18-24": 2,
        "25-59": 1,
        "60+": 1,
        "(outside bands)": 1,
        "(no answer)": 1,
    }


def test_cross() -> None:
    result = _build(_indicator("count", by=["sex*institution"]), PEOPLE)
    (block,) = result.blocks
    assert (block.dimension, block.label) == ("sex*institution", "Sex × Institution")
    rows = {r.category: (r.category_label, r.value) for r in block.rows}
    assert list(rows)[:3] == ["female*government", "female*nhri", "female*cso"]
    assert rows["female*government"] == ("Female × Government", 2)
    assert rows["male*government"] == ("Male × Government", 1)
    assert rows["other*cso"] == ("Other × Civil society", 0)
    assert rows["(no answer)*cso"] == ("(no answer) × Civil society", 1)
    assert len(rows) == 4 * 3


def test_cross_of_three_with_bands() -> None:
    result = _build(_indicator("count", by=["sex*institution*age:0-29,30+"]), PEOPLE)
    rows = _values(result.blocks[0].rows)
    assert rows["female*government*0-29"] == 1
    assert rows["female*government*30+"] == 1
    assert sum(v or 0 for v in rows.values()) == 5


def test_percent_by_category() -> None:
    indicator = _indicator("percent", field="age", condition="${age} >= 18", by=["sex"])
    result = _build(indicator, PEOPLE)
    by_sex = {r.category: (r.value, r.n) for r in result.blocks[0].rows}
    assert by_sex["female"][0] == pytest.approx(200 / 3)
    assert by_sex["female"][1] == 3
    assert by_sex["male"] == (100, 1)
    assert by_sex["other"] == (None, 0)
    assert by_sex["(no answer)"] == (None, 0)


# Suppression ---------------------------------------------------------------------------------


def _people(*counts: tuple[str, int]) -> list[tuple[str, ...]]:
    return [(f"{sex}{i}", sex, "", "40", "1", "") for sex, count in counts for i in range(count)]


def test_primary_suppression() -> None:
    rows = _people(("female", 2), ("male", 5), ("other", 5))
    result = _build(_indicator("count", by=["sex"]), rows, min_cell=3)
    female, male, other = result.blocks[0].rows
    assert (female.value, female.n, female.suppressed) == (None, None, True)
    # Exactly one category was small, so the smallest other non-zero one goes too.
    assert male.suppressed
    assert (other.value, other.suppressed) == (5, False)


def test_no_complementary_suppression_when_two_are_small() -> None:
    rows = _people(("female", 1), ("male", 2), ("other", 6))
    result = _build(_indicator("count", by=["sex"]), rows, min_cell=3)
    assert [r.suppressed for r in result.blocks[0].rows] == [True, True, False]


def test_complementary_suppression_skips_zero_categories() -> None:
    rows = _people(("female", 1), ("male", 6))
    result = _build(_indicator("count", by=["sex"]), rows, min_cell=3)
    assert [(r.value, r.suppressed) for r in result.blocks[0].rows] == [
        (None, True),
        (None, True),
        (0, False),
    ]


def test_zero_is_never_suppressed() -> None:
    rows = _people(("female", 6), ("male", 6))
    result = _build(_indicator("count", by=["sex"]), rows, min_cell=5)
    assert [(r.value, r.suppressed) for r in result.blocks[0].rows] == [
        (6, False),
        (6, False),
        (0, False),
    ]


def test_small_total_is_suppressed_and_needs_no_complement() -> None:
    rows = _people(("female", 1), ("male", 2))
    indicator = _indicator("count", by=["sex"], target=10)
    result = _build(indicator, rows, min_cell=5)
    assert (result.headline.value, result.headline.suppressed, result.achievement) == (
        None,
        True,
        None,
    )
    assert [r.suppressed for r in result.blocks[0].rows] == [True, True, False]


def test_mean_is_suppressed_by_its_n() -> None:
    rows = _people(("female", 2), ("male", 4), ("other", 4))
    result = _build(_indicator("mean", field="age", by=["sex"]), rows, min_cell=3)
    assert not result.headline.suppressed
    assert [r.suppressed for r in result.blocks[0].rows] == [True, True, False]


def test_sum_is_suppressed_by_its_value() -> None:
    rows = [("A", "female", "", "", "2", ""), ("B", "male", "", "", "40", "")]
    result = _build(_indicator("sum", field="attendees"), rows, min_cell=5)
    assert not result.headline.suppressed  # 42 persons even though n is 2
    rows = [("A", "female", "", "", "2", ""), ("B", "male", "", "", "1", "")]
    assert _build(_indicator("sum", field="attendees"), rows, min_cell=5).headline.suppressed


def test_min_cell_zero_turns_suppression_off() -> None:
    rows = _people(("female", 1))
    result = _build(_indicator("count", by=["sex"]), rows, min_cell=0)
    assert not result.headline.suppressed
    assert not any(r.suppressed for r in result.blocks[0].rows)


def test_change_measures_are_suppressed_together() -> None:
    baseline = [
        compute.record(f"b{i}", T0, {"code": c, "age": "10"}) for i, c in enumerate("ABCDEF")
    ]
    rows = [(c, "female" if c == "A" else "male", "", "20", "", "") for c in "ABCDEF"]
    indicator = _indicator("change", field="age", baseline_form="pre", key="code", by=["sex"])
    result = _build(indicator, rows, baseline=baseline, min_cell=3)
    female = [r for r in result.blocks[0].rows if r.category == "female"]
    measures = {"mean_change", "baseline_mean", "endline_mean", "percent_improved", "pairs"}
    assert {r.measure for r in female if r.suppressed} == measures
    male = [r for r in result.blocks[0].rows if r.category == "male"]
    assert {r.measure for r in male if r.suppressed} == measures  # the complement


# Outputs -------------------------------------------------------------------------------------


def test_to_json() -> None:
    data = render.to_json(_worked(min_cell=2))
    assert [s["name"] for s in data["sections"]] == ["participation", "impact"]
    trained = data["sections"][0]["indicators"][0]
    assert trained["name"] == "trained"
    assert trained["label"] == "Officials trained"
    assert (trained["target"], trained["achievement"], trained["waitingFor"]) == (8, 75, None)
    assert trained["total"] == {"measure": "distinct", "value": 6, "n": 6, "suppressed": False}
    institution = trained["blocks"][1]
    assert institution["dimension"] == "institution"
    assert institution["rows"][1] == {
        "measure": "distinct",
        "category": "nhri",
        "categoryLabel": "NHRI",
        "value": None,
        "n": None,
        "suppressed": True,
    }
    satisfied = data["sections"][1]["indicators"][1]
    assert satisfied["total"]["value"] == 66.667
    gain = data["sections"][1]["indicators"][0]
    assert len(gain["measures"]) == 7


def test_write_xlsx() -> None:
    out = io.BytesIO()
    render.write_xlsx(_worked(min_cell=2), out)
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()), read_only=True)
    assert book.sheetnames == ["Participation", "Impact"]
    participation = [list(r) for r in book["Participation"].iter_rows(values_only=True)]
    assert ["Officials trained", 6, 6, 8, 75] in [r[:5] for r in participation]
    assert ["NHRI", "suppressed", "suppressed"] in [r[:3] for r in participation]
    assert ["Government", 3, 3] in [r[:3] for r in participation]
    impact = [list(r) for r in book["Impact"].iter_rows(values_only=True)]
    assert ["Mean change", 2.2, 5] in [r[:3] for r in impact]
    assert [SATISFIED, 66.667, 6, 80, 83.333] in [r[:5] for r in impact]
    book.close()


@pytest.mark.parametrize(
    ("value", "text"),
    [(6.0, "6"), (2.2, "2.2"), (7 / 3, "2.333"), (200 / 3, "66.667"), (0.0004, "0"), (None, "")],
)
def test_format_number(value: float | None, text: str) -> None:
    assert render.format_number(value) == text


# Properties ----------------------------------------------------------------------------------

SEXES = st.sampled_from(["female", "male", "other", ""])
INSTITUTIONS = st.sampled_from(["government", "nhri", "cso", ""])
AGES = st.one_of(st.just(""), st.integers(0, 90).map(str))
PEOPLE_ROWS = st.lists(
    st.tuples(
        st.text("abc", max_size=2),
        SEXES,
        INSTITUTIONS,
        AGES,
        st.just(""),
        st.sampled_from(["", "law", "law ethics", "ict"]),
    ),
    max_size=40,
)


@given(PEOPLE_ROWS, st.sampled_from(["sex", "institution"]))
@settings(max_examples=80, deadline=None)
def test_count_by_select_one_adds_up_to_total(rows: list[tuple[str, ...]], by: str) -> None:
    result = _build(_indicator("count", by=[by]), rows)
    assert sum(r.value or 0 for r in result.blocks[0].rows) == result.headline.value == len(rows)


def _persons(kind: str, row: Row) -> float:
    if kind in ("count", "distinct", "sum"):
        return row.value or 0
    return row.n or 0


@given(
    PEOPLE_ROWS,
    st.integers(0, 6),
    st.sampled_from(
        [
            {"type": "count"},
            {"type": "distinct", "field": "code"},
            {"type": "mean", "field": "age"},
            {"type": "percent", "field": "age", "condition": "${age} >= 18"},
        ]
    ),
)
@settings(max_examples=150, deadline=None)
def test_no_published_cell_describes_fewer_than_min_cell_persons(
    rows: list[tuple[str, ...]], min_cell: int, spec: dict[str, str]
) -> None:
    kind = spec["type"]
    fields = {k: v for k, v in spec.items() if k != "type"}
    indicator = _indicator(kind, **fields, by=["sex", "topics", "institution*age:0-17,18+"])
    result = _build(indicator, rows, min_cell=min_cell)
    for row in [*result.total, *(r for b in result.blocks for r in b.rows)]:
        if row.suppressed:
            assert (row.value, row.n) == (None, None)
        else:
            assert not 0 < _persons(kind, row) < min_cell
    if kind == "count" and not result.headline.suppressed:
        # No single hidden cell a reader could recover as the total minus the others.
        hidden = [r for r in result.blocks[0].rows if r.suppressed]
        assert len(hidden) != 1
