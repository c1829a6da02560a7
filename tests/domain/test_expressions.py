"""Expressions: parsing, ODK (XPath 1.0) semantics on text answers, and errors with positions."""

import math

import pytest

from collect.domain.evaluation.expressions import (
    ExpressionError,
    parse,
    to_number,
    to_string,
    truthy,
)

ANSWERS = {
    "age": "34",
    "score": "4",
    "decimal": "2.5",
    "empty": "",
    "missing_is_none": None,
    "sex": "female",
    "langs": "fr en  ar",
    "zero": "0",
    "start": "2024-03-01",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # numbers held as text compare numerically with numbers
        ("${score} = 4", True),
        ("${score} = '4'", True),
        ("${score} = 4.0", True),
        ("${score} = '4.0'", False),  # two strings compare as text
        ("${score} != 4", False),
        ("${age} >= 18", True),
        ("${age} < 18", False),
        ("${decimal} > 2", True),
        ("'10' > '9'", True),  # relational operators always compare numbers
        # empty and missing answers
        ("${empty} = ''", True),
        ("${missing_is_none} = ''", True),
        ("${nowhere} = ''", True),
        ("${empty} = 0", False),
        ("${empty} != 0", True),
        ("${empty} < 5", False),
        ("${empty} > 5", False),
        ("${empty} >= 0", False),
        ("${empty} <= 0", False),
        # strings
        ("${sex} = 'female'", True),
        ('${sex} = "female"', True),
        ("${sex} != 'male'", True),
        ("${sex} > 1", False),
        # logic
        ("${age} > 18 and ${sex} = 'female'", True),
        ("${age} < 18 or ${sex} = 'female'", True),
        ("not(${sex} = 'female')", False),
        ("not(${empty})", True),
        ("${zero} and true()", True),  # any non-empty text is true, even "0"
        ("true() = 1", True),
        ("false() = ''", True),
        ("1 = 1 = 1", True),  # (1 = 1) = 1: boolean compared as boolean
        # selects
        ("selected(${langs}, 'en')", True),
        ("selected(${langs}, 'ar')", True),
        ("selected(${langs}, 'e')", False),
        ("selected(${empty}, 'en')", False),
        ("count-selected(${langs}) = 3", True),
        ("count-selected(${empty}) = 0", True),
        # NaN compares false, except !=
        ("0 div 0 = 0 div 0", False),
        ("0 div 0 != 0 div 0", True),
        ("${empty} + 1 > 0", False),
        # dates written as ISO text compare in time order
        ("${start} < '2024-06-01'", True),
        ("${start} > '2024-06-01'", False),
        ("${empty} < '2024-06-01'", False),
    ],
)
def test_boolean_semantics(text: str, expected: bool) -> None:
    assert truthy(parse(text).evaluate(ANSWERS)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("10 - 4 - 3", 3.0),  # left associative
        ("7 div 2", 3.5),
        ("7 mod 3", 1.0),
        ("-7 mod 3", -1.0),  # XPath mod truncates toward zero
        ("7 mod -3", 1.0),
        ("-${age}", -34.0),
        ("- -2", 2.0),
        ("2 * -3", -6.0),
        ("${age} + ${score}", 38.0),
        ("${decimal} * 2", 5.0),
        ("1 div 0", math.inf),
        ("-1 div 0", -math.inf),
        ("number('12')", 12.0),
        ("string-length(${sex})", 6.0),
        ("string-length(${empty})", 0.0),
        ("if(${age} >= 18, 1, 0)", 1.0),
        ("count-selected(${langs}) * 10", 30.0),
    ],
)
def test_numeric_results(text: str, expected: float) -> None:
    assert parse(text).evaluate(ANSWERS) == expected


@pytest.mark.parametrize(
    "text",
    [
        "0 div 0",
        "${empty} + 1",
        "${sex} * 2",
        "number('')",
        "number('1e3')",
        "5 mod 0",
        "-${empty}",
    ],
)
def test_nan_results(text: str) -> None:
    result = parse(text).evaluate(ANSWERS)
    assert isinstance(result, float)
    assert math.isnan(result)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'abc'", "abc"),
        ("if(${age} < 18, 'minor', 'adult')", "adult"),
        ("concat(${sex}, '-', ${score})", "female-4"),
        ("concat('n=', 2 + 1)", "n=3"),
        ("concat('', 0.5)", "0.5"),
        ("string(1 div 0)", "Infinity"),
        ("string(0 div 0)", "NaN"),
        ("string(true())", "true"),
        ("coalesce(${empty}, 'none')", "none"),
        ("coalesce(${sex}, 'none')", "female"),
        ("${sex}", "female"),
    ],
)
def test_string_results(text: str, expected: str) -> None:
    assert parse(text).evaluate(ANSWERS) == expected


@pytest.mark.parametrize(
    ("text", "refs"),
    [
        ("1 + 1", set()),
        ("${a} = 1", {"a"}),
        ("selected(${b}, 'x') and ${a} > ${c}", {"a", "b", "c"}),
        ("if(${a}, ${b}, -${c})", {"a", "b", "c"}),
        ("${ spaced }", {"spaced"}),
    ],
)
def test_refs(text: str, refs: set[str]) -> None:
    assert parse(text).refs == frozenset(refs)


def test_if_evaluates_only_the_chosen_branch() -> None:
    expression = parse("if(true(), 'yes', 1 div 0)")
    assert expression.evaluate({}) == "yes"


def test_precedence_and_binds_tighter_than_or() -> None:
    assert parse("true() or false() and false()").evaluate({}) is True
    assert parse("(true() or false()) and false()").evaluate({}) is False


def test_keywords_are_operators_only_between_operands() -> None:
    # "and" is an operator, not a question: the author is told to write ${and}.
    with pytest.raises(ExpressionError, match="a question is written"):
        parse("and = 1")


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("(${a} + 1))", "unexpected ')' at character 11", 11),
        ("${a} = 1 )", "unexpected ')' at character 10", 10),
        ("foo(${a})", "unknown function 'foo()'", 1),
        ("1 + unknown-fn(2)", "unknown function 'unknown-fn()'", 5),
        ("${a} =", "unexpected end of expression", 7),
        ("", "the expression is empty", 1),
        ("   ", "the expression is empty", 1),
        ("${a} = 'abc", "unterminated string starting at character 8", 8),
        ("${a = 1", "'${' at character 1 is never closed by '}'", 1),
        ("${} = 1", "'${}' at character 1 is not a question reference", 1),
        ("${a b} = 1", "'${a b}' at character 1 is not a question reference", 1),
        ("${a} # 1", "unexpected '#' at character 6", 6),
        ("age > 18", "unexpected 'age' at character 1 (a question is written ${age})", 1),
        ("selected(${a})", "'selected()' takes 2 arguments, got 1", 1),
        ("not()", "'not()' takes 1 argument, got 0", 1),
        ("true(1)", "'true()' takes 0 arguments, got 1", 1),
        ("(1 + 2", "unexpected end of expression: expected ')'", 7),
        ("selected(${a} 'x')", "unexpected ''x'' at character 15: expected ')'", 15),
        ("1 + * 2", "unexpected '*' at character 5", 5),
        ("${a} = = 1", "unexpected '=' at character 8", 8),
    ],
)
def test_syntax_errors_say_where(text: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert caught.value.message == message
    assert caught.value.position == position
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("4", 4.0), (" 4 ", 4.0), ("-2.5", -2.5), (".5", 0.5), ("5.", 5.0), (True, 1.0), (3.0, 3.0)],
)
def test_to_number(value: str | float | bool, expected: float) -> None:
    assert to_number(value) == expected


@pytest.mark.parametrize("value", ["", None, "abc", "+4", "1e3", "4 5", "NaN", "Infinity"])
def test_to_number_is_nan_for_anything_but_a_plain_decimal(value: str | None) -> None:
    assert math.isnan(to_number(value))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(4.0, "4"), (-0.0, "0"), (2.5, "2.5"), (1e-7, "0.0000001"), (False, "false"), ("x", "x")],
)
def test_to_string(value: str | float | bool, expected: str) -> None:
    assert to_string(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", False), ("0", True), ("false", True), (0.0, False), (math.nan, False), (2.0, True)],
)
def test_truthy(value: str | float, expected: bool) -> None:
    assert truthy(value) is expected


def test_holds_converts_to_boolean() -> None:
    assert parse("${sex}").holds({"sex": "male"}) is True
    assert parse("${sex}").holds({}) is False
