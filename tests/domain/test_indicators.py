"""The indicators sheet: reading workbooks, refusing what does not fit the form, round trips."""

import io
from collections.abc import Mapping

import openpyxl
import pytest

from collect.domain.evaluation import indicators
from collect.domain.evaluation.indicators import (
    Band,
    Choice,
    Indicator,
    Part,
    Question,
    SheetRow,
    parse_dimension,
    pick_label,
    question_type,
)
from collect.errors import InvalidForm, Problem


def _choices(*names: str) -> tuple[Choice, ...]:
    return tuple(Choice(n, {"English (en)": n.title(), "French (fr)": f"fr-{n}"}) for n in names)


PRETEST = {
    "participant_code": Question("participant_code", "text"),
    "sex": Question("sex", "select_one", _choices("female", "male", "other")),
    "institution": Question("institution", "select_one", _choices("government", "nhri", "cso")),
    "score": Question("score", "integer"),
}
POSTTEST = {
    **PRETEST,
    "satisfaction": Question("satisfaction", "integer"),
    "topics": Question("topics", "select_multiple", _choices("law", "ethics")),
    "age": Question("age", "integer"),
    "started": Question("started", "date"),
}
NO_SCORE = {k: v for k, v in PRETEST.items() if k != "score"}


def _row(number: int = 2, /, **cells: str) -> SheetRow:
    base = {"name": "trained", "section": "participation", "label": "Trained", "type": "count"}
    return SheetRow(number, {**base, **cells})


Forms = Mapping[str, Mapping[str, Question]]


def _parse(
    *rows: SheetRow, taken: set[str] | None = None, forms: Forms | None = None
) -> list[Indicator]:
    return indicators.parse(
        list(rows),
        POSTTEST,
        form_id="tot_posttest",
        project_forms=forms if forms is not None else {"tot_pretest": PRETEST},
        taken_names=taken or set(),
    )


def _problems(
    *rows: SheetRow, taken: set[str] | None = None, forms: Forms | None = None
) -> list[Problem]:
    with pytest.raises(InvalidForm) as caught:
        _parse(*rows, taken=taken, forms=forms)
    assert caught.value.message.startswith("The indicators sheet has problems.")
    return caught.value.problems


def _only(*rows: SheetRow, taken: set[str] | None = None, forms: Forms | None = None) -> Problem:
    problems = _problems(*rows, taken=taken, forms=forms)
    assert len(problems) == 1, problems
    return problems[0]


# The worked example of the spec ---------------------------------------------------------------

WORKED_SHEET = [
    SheetRow(
        2,
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
    ),
    SheetRow(
        3,
        {
            "name": "women_share",
            "section": "participation",
            "label": "Share of women",
            "type": "percent",
            "field": "sex",
            "condition": "${sex} = 'female'",
            "target": "50",
        },
    ),
    SheetRow(
        4,
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
    ),
    SheetRow(
        5,
        {
            "name": "satisfied",
            "section": "impact",
            "label": "Satisfied (4\N{EN DASH}5 of 5)",
            "type": "percent",
            "field": "satisfaction",
            "condition": "${satisfaction} >= 4",
            "target": "80",
        },
    ),
]


def test_worked_example_sheet_parses() -> None:
    trained, women, gain, satisfied = _parse(*WORKED_SHEET)
    assert trained.type == "distinct"
    assert trained.labels == {
        "default": "Officials trained",
        "French (fr)": "Fonctionnaires formés",
    }
    assert trained.label("fr") == "Fonctionnaires formés"
    assert [d.item for d in trained.by] == ["sex", "institution"]
    assert trained.target == 8.0
    assert women.condition is not None
    assert women.condition.refs == {"sex"}
    assert (gain.baseline_form, gain.key, gain.waiting_for) == (
        "tot_pretest",
        "participant_code",
        None,
    )
    assert satisfied.section == "impact"


def test_to_dict_round_trips() -> None:
    rows = [
        *WORKED_SHEET,
        _row(6, name="adults", by="age:0-17,18-59,60+ sex*institution", where="${age} > 0"),
    ]
    for indicator in _parse(*rows):
        assert Indicator.from_dict(indicator.to_dict()) == indicator


# Refusals: one per rule, each located ----------------------------------------------------------


def test_unknown_column() -> None:
    problem = _only(_row(3, comment="check this"))
    assert (problem.sheet, problem.row, problem.column) == ("indicators", 3, "comment")
    assert problem.message.startswith("unknown column 'comment'")


def test_unknown_column_left_empty_is_ignored() -> None:
    assert _parse(_row(comment=""))


def test_translated_label_columns_are_known() -> None:
    (indicator,) = _parse(_row(**{"label::Français (fr)": "Formés"}))
    assert indicator.label("fr") == "Formés"


@pytest.mark.parametrize("column", ["name", "section", "type"])
def test_missing_required_cell(column: str) -> None:
    problem = _only(_row(4, **{column: ""}))
    assert (problem.row, problem.column) == (4, column)
    assert problem.message.startswith(f"the {column} is missing")


def test_missing_label() -> None:
    problem = _only(_row(label=""))
    assert problem.column == "label"
    assert problem.message == "the label is missing; say what the report should print"


def test_label_may_be_given_only_in_a_language() -> None:
    (indicator,) = _parse(_row(label="", **{"label::English (en)": "Trained"}))
    assert indicator.label() == "Trained"


@pytest.mark.parametrize("name", ["Trained", "2trained", "trained-total", "_x", "women trained"])
def test_bad_name(name: str) -> None:
    problem = _only(_row(name=name))
    assert problem.column == "name"
    assert problem.message.startswith(f"'{name}' is not a valid name")


def test_duplicate_name_in_sheet() -> None:
    problem = _only(_row(2), _row(5))
    assert (problem.row, problem.column) == (5, "name")
    assert problem.message == "the name 'trained' is already used on row 2"


def test_name_taken_by_another_form() -> None:
    problem = _only(_row(), taken={"trained"})
    assert problem.column == "name"
    assert problem.message == "the name 'trained' is already used by another form of this project"


def test_unknown_section() -> None:
    problem = _only(_row(section="outcomes"))
    assert problem.column == "section"
    assert problem.message == "unknown section 'outcomes'; use one of participation, impact"


def test_unknown_type() -> None:
    problem = _only(_row(type="median", field="score"))
    assert problem.column == "type"
    assert problem.message.startswith("unknown type 'median'; use one of count, distinct")


def test_type_and_section_are_case_insensitive() -> None:
    (indicator,) = _parse(_row(type="Count", section="Participation"))
    assert (indicator.type, indicator.section) == ("count", "participation")


def test_unknown_field() -> None:
    problem = _only(_row(type="mean", field="scor"))
    assert (problem.column, problem.message) == ("field", "the form has no question named 'scor'")


@pytest.mark.parametrize("kind", ["distinct", "sum", "mean", "percent", "change"])
def test_missing_field(kind: str) -> None:
    extra = {"condition": "true()"} if kind == "percent" else {}
    if kind == "change":
        extra = {"baseline_form": "tot_pretest", "key": "participant_code"}
    problem = _only(_row(type=kind, **extra))
    assert problem.column == "field"
    assert problem.message == f"a {kind} indicator needs a field: a question of this form"


def test_count_takes_no_field() -> None:
    problem = _only(_row(field="score"))
    assert problem.column == "field"
    assert problem.message.startswith("a count counts submissions and takes no field")


@pytest.mark.parametrize("kind", ["sum", "mean"])
def test_numeric_type_on_a_text_question(kind: str) -> None:
    problem = _only(_row(type=kind, field="participant_code"))
    assert problem.column == "field"
    assert problem.message == (
        f"a {kind} needs a numeric question (integer or decimal); 'participant_code' is text"
    )


def test_by_a_free_text_question() -> None:
    problem = _only(_row(by="participant_code"))
    assert (problem.row, problem.column) == (2, "by")
    assert problem.message == (
        "cannot disaggregate by 'participant_code' (text);"
        " disaggregate by select_one or select_multiple questions"
    )


def test_by_a_numeric_question_without_bands() -> None:
    problem = _only(_row(by="age"))
    assert (
        problem.message
        == "cannot disaggregate by 'age' (integer); add bands, e.g. age:0-17,18-59,60+"
    )


def test_by_an_unknown_question() -> None:
    problem = _only(_row(by="sex gender"))
    assert (problem.column, problem.message) == ("by", "the form has no question named 'gender'")


def test_bands_on_a_non_numeric_question() -> None:
    problem = _only(_row(by="sex:0-17,18+"))
    assert problem.column == "by"
    assert problem.message == "bands need a numeric question; 'sex' is select_one"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            "age:0-17,adult",
            "'adult' in 'age:0-17,adult' is not a band; write bands like age:0-17,18-59,60+",
        ),
        ("age:", "'' in 'age:' is not a band; write bands like age:0-17,18-59,60+"),
        ("age:17-0", "band '17-0' in 'age:17-0' ends before it starts"),
        ("age:0-17,60+,18-59", "only the last band of 'age:0-17,60+,18-59' may be open ('60+')"),
        (
            "age:0-20,18-59",
            "band '18-59' in 'age:0-20,18-59' overlaps '0-20'; list bands in increasing order,"
            " without overlap",
        ),
    ],
)
def test_malformed_bands(item: str, message: str) -> None:
    problem = _only(_row(by=item))
    assert (problem.column, problem.message) == ("by", message)


def test_cross_of_more_than_three_items() -> None:
    problem = _only(_row(by="sex*institution*topics*age:0-17,18+"))
    assert problem.column == "by"
    assert problem.message.startswith("'sex*institution*topics*age:0-17,18+' crosses 4 items;")


def test_cross_with_an_empty_item() -> None:
    problem = _only(_row(by="sex*"))
    assert problem.message == "'sex*' has an empty item; write e.g. sex*institution"


def test_cross_of_a_question_with_itself() -> None:
    assert _only(_row(by="sex*sex")).message == "'sex*sex' crosses a question with itself"


def test_percent_without_condition() -> None:
    problem = _only(_row(type="percent", field="sex"))
    assert problem.column == "condition"
    assert problem.message.startswith("a percent needs a condition")


def test_condition_on_another_type() -> None:
    problem = _only(_row(condition="${sex} = 'female'"))
    assert problem.column == "condition"
    assert problem.message == "only a percent takes a condition; remove it or use 'where'"


@pytest.mark.parametrize("column", ["where", "condition"])
def test_expression_syntax_error(column: str) -> None:
    cells = {"type": "percent", "field": "sex", "condition": "true()", column: "${sex} = 'f' )"}
    row = _row(7, **cells)
    problem = _only(row)
    assert (problem.sheet, problem.row, problem.column) == ("indicators", 7, column)
    assert problem.message == "the expression cannot be read: unexpected ')' at character 14"


def test_expression_unknown_function() -> None:
    problem = _only(_row(where="today() > ${started}"))
    assert problem.message == "the expression cannot be read: unknown function 'today()'"


@pytest.mark.parametrize("column", ["where", "condition"])
def test_expression_unknown_reference(column: str) -> None:
    cells = {"type": "percent", "field": "sex", "condition": "true()", column: "${gender} = 'f'"}
    row = _row(**cells)
    problem = _only(row)
    assert (problem.column, problem.message) == (column, "${gender} is not a question of this form")


@pytest.mark.parametrize("target", ["80%", "eighty", "nan", "inf"])
def test_target_not_a_number(target: str) -> None:
    problem = _only(_row(target=target))
    assert problem.column == "target"
    assert problem.message == f"the target must be a number, e.g. 80; '{target}' is not"


def test_target_may_be_decimal() -> None:
    assert _parse(_row(target="12.5"))[0].target == 12.5


def _change(**cells: str) -> SheetRow:
    base = {
        "name": "gain",
        "section": "impact",
        "type": "change",
        "field": "score",
        "baseline_form": "tot_pretest",
        "key": "participant_code",
    }
    return _row(3, **{**base, **cells})


def test_change_without_baseline_form() -> None:
    problem = _only(_change(baseline_form=""))
    assert (problem.row, problem.column) == (3, "baseline_form")
    assert problem.message == "a change needs baseline_form: the form_id of the pre-test"


def test_change_without_key() -> None:
    problem = _only(_change(key=""))
    assert (problem.column, problem.message) == (
        "key",
        "a change needs a key: the question that identifies a person",
    )


def test_change_against_itself() -> None:
    problem = _only(_change(baseline_form="tot_posttest"))
    assert problem.message == "the baseline form must be another form than this one"


def test_change_of_a_text_question() -> None:
    problem = _only(_change(field="participant_code"))
    assert problem.column == "field"
    assert problem.message.startswith("a change needs a numeric question")


def test_change_key_missing_from_this_form() -> None:
    problem = _only(_change(key="badge"))
    assert (problem.column, problem.message) == ("key", "the form has no question named 'badge'")


def test_baseline_form_lacks_the_field() -> None:
    problem = _only(_change(), forms={"tot_pretest": NO_SCORE})
    assert (problem.row, problem.column) == (3, "field")
    assert problem.message == "the baseline form 'tot_pretest' has no question named 'score'"


def test_baseline_form_lacks_the_key() -> None:
    pretest = {k: v for k, v in PRETEST.items() if k != "participant_code"}
    problem = _only(_change(), forms={"tot_pretest": pretest})
    assert (problem.column, problem.message) == (
        "key",
        "the baseline form 'tot_pretest' has no question named 'participant_code'",
    )


def test_baseline_and_key_only_for_change() -> None:
    problems = _problems(_row(baseline_form="tot_pretest", key="participant_code"))
    assert [(p.column, p.message) for p in problems] == [
        ("baseline_form", "only a change takes a baseline_form; remove it"),
        ("key", "only a change takes a key; remove it"),
    ]


def test_change_waits_for_a_baseline_form_not_yet_published() -> None:
    (indicator,) = _parse(_change(), forms={})
    assert indicator.waiting_for == "tot_pretest"
    assert Indicator.from_dict(indicator.to_dict()).waiting_for == "tot_pretest"


def test_all_problems_are_listed_at_once() -> None:
    problems = _problems(
        _row(2, name="Bad"),
        _row(3, name="ok", section="outputs"),
        _row(4, name="ok2", type="mean", field="sex", by="participant_code"),
    )
    assert [(p.row, p.column) for p in problems] == [
        (2, "name"),
        (3, "section"),
        (4, "field"),
        (4, "by"),
    ]


def test_error_message_lists_locations() -> None:
    with pytest.raises(InvalidForm) as caught:
        _parse(_row(5, section="outputs"))
    assert "sheet 'indicators', row 5, column 'section'" in str(caught.value)
    assert caught.value.details["problems"][0]["row"] == 5


def test_an_empty_sheet_defines_nothing() -> None:
    assert _parse() == []


# Dimensions ----------------------------------------------------------------------------------


def test_parse_dimension() -> None:
    dimension = parse_dimension("sex*age:0-17,18-24,25-59,60+")
    assert dimension.is_cross
    assert dimension.parts == (
        Part("sex"),
        Part(
            "age",
            (
                Band("0-17", 0, 17),
                Band("18-24", 18, 24),
                Band("25-59", 25, 59),
                Band("60+", 60, None),
            ),
        ),
    )


def test_band_bounds_are_inclusive() -> None:
    band = Band("18-24", 18, 24)
    assert [band.contains(x) for x in (17, 18, 24, 24.5)] == [False, True, True, False]
    assert Band("60+", 60, None).contains(120)


# Labels and question types -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("French (fr)", "Femme"),
        ("fr", "Femme"),
        ("FR", "Femme"),
        ("French", "Femme"),
        ("es", "Woman"),  # unknown language: the default
        (None, "Woman"),
    ],
)
def test_pick_label(lang: str | None, expected: str) -> None:
    labels = {"English (en)": "Female", "default": "Woman", "French (fr)": "Femme"}
    assert pick_label(labels, lang) == expected


def test_pick_label_falls_back_to_first_language() -> None:
    assert pick_label({"English (en)": "Female", "French (fr)": "Femme"}, "ar") == "Female"
    assert pick_label({}, "fr") is None


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("select_one", "select_one"),
        ("select1", "select_one"),
        ("select", "select_multiple"),
        ("int", "integer"),
        ("decimal", "decimal"),
        ("string", "text"),
        ("dateTime", "datetime"),
        ("geotrace", "other"),
    ],
)
def test_question_type(kind: str, expected: str) -> None:
    assert question_type(kind) == expected


def test_question_refuses_unknown_types() -> None:
    with pytest.raises(ValueError, match="unknown question type"):
        Question("x", "int")


# Reading workbooks -------------------------------------------------------------------------


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    del book["Sheet"]  # the one a new workbook starts with
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_read_sheet_from_xlsx() -> None:
    data = _workbook(
        {
            "survey": [["type", "name"], ["integer", "age"]],
            "indicators": [
                ["name", "Section", "label", "label::Français (fr)", "type", "target", "share"],
                ["trained", "participation", "Trained", "Formés", "count", 8, 0.5],
                [],
                [None, None, "  ", None],
                ["older", "impact", "Older", None, "mean", 12.5, None],
            ],
        }
    )
    rows = indicators.read_sheet(data, "xlsx")
    assert rows is not None
    assert [r.row for r in rows] == [2, 5]
    assert rows[0].cells == {
        "name": "trained",
        "section": "participation",
        "label": "Trained",
        "label::Français (fr)": "Formés",
        "type": "count",
        "target": "8",
        "share": "0.5",
    }
    assert rows[1].get("target") == "12.5"
    assert rows[1].get("label::Français (fr)") == ""


def test_read_sheet_then_parse_reports_spreadsheet_rows() -> None:
    data = _workbook(
        {
            "indicators": [
                [],
                ["name", "section", "label", "type"],
                ["trained", "participation", "Trained", "count"],
                ["trained", "participation", "Trained again", "count"],
            ]
        }
    )
    rows = indicators.read_sheet(data, ".xlsx")
    assert rows is not None
    problem = _only(*rows)
    assert (problem.row, problem.column) == (4, "name")
    assert problem.message == "the name 'trained' is already used on row 3"


def test_read_sheet_without_indicators_sheet() -> None:
    assert indicators.read_sheet(_workbook({"survey": [["type", "name"]]}), "xlsx") is None


def test_read_sheet_refuses_a_damaged_workbook() -> None:
    with pytest.raises(InvalidForm, match="The workbook cannot be read"):
        indicators.read_sheet(b"not a workbook", "xlsx")


def test_read_sheet_refuses_other_file_types() -> None:
    with pytest.raises(InvalidForm, match=r"only be read from \.xlsx or \.xls"):
        indicators.read_sheet(b"", "csv")


def test_read_sheet_from_xls() -> None:
    xlwt = pytest.importorskip("xlwt")  # writes the old format; only the tests need it
    book = xlwt.Workbook()
    book.add_sheet("survey").write(0, 0, "type")
    sheet = book.add_sheet("Indicators")
    rows: list[list[object]] = [["name", "type", "target"], [], ["trained", "count", 8.0]]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    assert indicators.read_sheet(out.getvalue(), "xls") == [
        SheetRow(3, {"name": "trained", "type": "count", "target": "8"})
    ]


def test_baseline_field_not_numeric() -> None:
    pretest = {**PRETEST, "score": Question("score", "text")}
    problem = _only(_change(), forms={"tot_pretest": pretest})
    assert (problem.column, problem.message) == (
        "field",
        "'score' is not numeric in the baseline form 'tot_pretest'",
    )
