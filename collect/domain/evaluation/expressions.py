"""XLSForm expressions as indicators use them: parsed into a tree, evaluated as ODK does."""

from __future__ import annotations

import math
import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Value = str | float | bool
Values = Mapping[str, str | None]


class ExpressionError(ValueError):
    """An expression a form author must fix; `position` is the 1-based character it concerns."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


# Conversions: XPath 1.0 as JavaRosa implements it --------------------------------------------

# XPath's number() accepts neither exponents nor a leading '+', unlike Python's float().
_NUMBER = re.compile(r"\s*-?(\d+(\.\d*)?|\.\d+)\s*")
# ISO dates compare in time order as text, which is what authors mean by ${date} < '2024-06-01'.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T[\d:.]+([+-]\d{2}:?\d{2}|Z)?)?")


def to_number(value: Value | None) -> float:
    """Convert as XPath's number(): text that is not a plain decimal (e.g. "") is NaN."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float | int):
        return float(value)
    if value is None or not _NUMBER.fullmatch(value):
        return math.nan
    return float(value)


def to_string(value: Value) -> str:
    """Convert as XPath's string(): integers without '.0', NaN and Infinity spelled out."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    # XPath never writes exponents: 1e-07 is 0.0000001.
    return format(Decimal(text), "f") if "e" in text else text


def truthy(value: Value) -> bool:
    """Convert as XPath's boolean(): any non-empty text is true, even "0"; NaN is false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value != ""
    return not math.isnan(value) and value != 0


# The tree ------------------------------------------------------------------------------------


class Node(ABC):
    """One node of a parsed expression."""

    @abstractmethod
    def evaluate(self, values: Values) -> Value:
        """Compute this node's value from the answers in `values`."""

    @abstractmethod
    def refs(self) -> Iterator[str]:
        """Yield the question names this node refers to."""


@dataclass(frozen=True)
class Literal(Node):
    value: str | float

    def evaluate(self, values: Values) -> Value:
        return self.value

    def refs(self) -> Iterator[str]:
        yield from ()


@dataclass(frozen=True)
class Ref(Node):
    name: str

    def evaluate(self, values: Values) -> Value:
        # Answers arrive as text; a missing node reads as the empty string, as in XPath.
        return values.get(self.name) or ""

    def refs(self) -> Iterator[str]:
        yield self.name


@dataclass(frozen=True)
class Negate(Node):
    operand: Node

    def evaluate(self, values: Values) -> Value:
        return -to_number(self.operand.evaluate(values))

    def refs(self) -> Iterator[str]:
        yield from self.operand.refs()


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node

    def evaluate(self, values: Values) -> Value:
        if self.op == "and":
            return truthy(self.left.evaluate(values)) and truthy(self.right.evaluate(values))
        if self.op == "or":
            return truthy(self.left.evaluate(values)) or truthy(self.right.evaluate(values))
        a, b = self.left.evaluate(values), self.right.evaluate(values)
        if self.op in ("=", "!="):
            return _equal(a, b) == (self.op == "=")
        if self.op in ("<", "<=", ">", ">="):
            return _relate(self.op, a, b)
        return _arithmetic(self.op, to_number(a), to_number(b))

    def refs(self) -> Iterator[str]:
        yield from self.left.refs()
        yield from self.right.refs()


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]

    def evaluate(self, values: Values) -> Value:
        if self.name == "if":  # only the chosen branch is evaluated
            cond, then, otherwise = self.args
            return (then if truthy(cond.evaluate(values)) else otherwise).evaluate(values)
        return _FUNCTIONS[self.name].apply([a.evaluate(values) for a in self.args])

    def refs(self) -> Iterator[str]:
        for arg in self.args:
            yield from arg.refs()


def _equal(a: Value, b: Value) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return truthy(a) == truthy(b)
    if isinstance(a, float) or isinstance(b, float):
        return to_number(a) == to_number(b)  # "4" = 4 is true; NaN equals nothing
    return a == b


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _relate(op: str, a: Value, b: Value) -> bool:
    x, y = to_number(a), to_number(b)
    if math.isnan(x) and math.isnan(y) and _both_dates(a, b):
        return _COMPARE[op](str(a).strip(), str(b).strip())
    return _COMPARE[op](x, y)  # any NaN makes the comparison false


def _both_dates(a: Value, b: Value) -> bool:
    return (
        isinstance(a, str)
        and isinstance(b, str)
        and bool(_ISO_DATE.fullmatch(a.strip()))
        and bool(_ISO_DATE.fullmatch(b.strip()))
    )


def _arithmetic(op: str, x: float, y: float) -> float:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "div":
        if y == 0:  # IEEE division, as XPath: 1 div 0 is Infinity, 0 div 0 is NaN
            if x == 0 or math.isnan(x):
                return math.nan
            return math.copysign(math.inf, x) * math.copysign(1.0, y)
        return x / y
    if y == 0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
        return math.nan
    return math.fmod(x, y)  # XPath's mod truncates, like Java's %, unlike Python's %


@dataclass(frozen=True)
class _Function:
    min_args: int
    max_args: int | None
    apply: Callable[[list[Value]], Value]


def _selected(args: list[Value]) -> Value:
    return to_string(args[1]).strip() in to_string(args[0]).split()


def _coalesce(args: list[Value]) -> Value:
    first = to_string(args[0])
    return first if first else to_string(args[1])


_FUNCTIONS: dict[str, _Function] = {
    "selected": _Function(2, 2, _selected),
    "count-selected": _Function(1, 1, lambda a: float(len(to_string(a[0]).split()))),
    "not": _Function(1, 1, lambda a: not truthy(a[0])),
    "true": _Function(0, 0, lambda a: True),
    "false": _Function(0, 0, lambda a: False),
    "boolean": _Function(1, 1, lambda a: truthy(a[0])),
    "number": _Function(1, 1, lambda a: to_number(a[0])),
    "string": _Function(1, 1, lambda a: to_string(a[0])),
    "string-length": _Function(1, 1, lambda a: float(len(to_string(a[0])))),
    "concat": _Function(1, None, lambda a: "".join(to_string(v) for v in a)),
    "coalesce": _Function(2, 2, _coalesce),
    "if": _Function(3, 3, lambda a: a[1] if truthy(a[0]) else a[2]),
}


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its source text, its tree and the questions it refers to."""

    text: str
    root: Node
    refs: frozenset[str]

    def evaluate(self, values: Values) -> Value:
        """Evaluate against one submission's answers (question name -> raw text)."""
        return self.root.evaluate(values)

    def holds(self, values: Values) -> bool:
        """Evaluate and convert to a boolean, as ODK does for relevant and constraint."""
        return truthy(self.evaluate(values))


# Tokens --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # ref, number, string, name, op, end
    text: str
    position: int  # 1-based, as an author counts characters

    def describe(self) -> str:
        return "end of expression" if self.kind == "end" else f"'{self.text}'"


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<ref>\$\{[^}]*\})
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op>!=|<=|>=|[=<>+\-*(),])
    """,
    re.VERBOSE,
)
_REF_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _lex_error(text, pos)
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, match.group(), pos + 1))
        pos = match.end()
    out.append(_Token("end", "", len(text) + 1))
    return out


def _lex_error(text: str, pos: int) -> ExpressionError:
    char = text[pos]
    if char in "'\"":
        return ExpressionError(f"unterminated string starting at character {pos + 1}", pos + 1)
    if text.startswith("${", pos):
        return ExpressionError(f"'${{' at character {pos + 1} is never closed by '}}'", pos + 1)
    return ExpressionError(f"unexpected '{char}' at character {pos + 1}", pos + 1)


# Parser: recursive descent, one function per precedence level, loosest first ---------------

_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"or"}),
    frozenset({"and"}),
    frozenset({"=", "!="}),
    frozenset({"<", "<=", ">", ">="}),
    frozenset({"+", "-"}),
    frozenset({"*", "div", "mod"}),
)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.current
        self.index += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.current
        if token.kind != "op" or token.text != text:
            raise _unexpected(token, f"expected '{text}'")
        return self.advance()

    def binary_op(self, level: int) -> str | None:
        token = self.current
        if token.kind in ("op", "name") and token.text in _LEVELS[level]:
            return token.text
        return None

    def expression(self, level: int = 0) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        left = self.expression(level + 1)
        while (op := self.binary_op(level)) is not None:
            self.advance()
            left = Binary(op, left, self.expression(level + 1))
        return left

    def unary(self) -> Node:
        if self.current.kind == "op" and self.current.text == "-":
            self.advance()
            return Negate(self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Literal(float(token.text))
        if token.kind == "string":
            self.advance()
            return Literal(token.text[1:-1])
        if token.kind == "ref":
            return self.ref()
        if token.kind == "op" and token.text == "(":
            self.advance()
            inner = self.expression()
            self.expect(")")
            return inner
        if token.kind == "name":
            return self.call()
        raise _unexpected(token)

    def ref(self) -> Node:
        token = self.advance()
        name = token.text[2:-1].strip()
        if not _REF_NAME.fullmatch(name):
            raise ExpressionError(
                f"'{token.text}' at character {token.position} is not a question reference",
                token.position,
            )
        return Ref(name)

    def call(self) -> Node:
        token = self.advance()
        if not (self.current.kind == "op" and self.current.text == "("):
            raise ExpressionError(
                f"unexpected '{token.text}' at character {token.position}"
                f" (a question is written ${{{token.text}}})",
                token.position,
            )
        function = _FUNCTIONS.get(token.text)
        if function is None:
            raise ExpressionError(f"unknown function '{token.text}()'", token.position)
        self.advance()
        args = self.arguments()
        _check_arity(token, function, args)
        return Call(token.text, tuple(args))

    def arguments(self) -> list[Node]:
        args: list[Node] = []
        if self.current.kind == "op" and self.current.text == ")":
            self.advance()
            return args
        args.append(self.expression())
        while self.current.kind == "op" and self.current.text == ",":
            self.advance()
            args.append(self.expression())
        self.expect(")")
        return args


def _unexpected(token: _Token, hint: str = "") -> ExpressionError:
    where = "" if token.kind == "end" else f" at character {token.position}"
    message = f"unexpected {token.describe()}{where}"
    return ExpressionError(f"{message}: {hint}" if hint else message, token.position)


def _check_arity(token: _Token, function: _Function, args: Sequence[Node]) -> None:
    low, high = function.min_args, function.max_args
    if low <= len(args) and (high is None or len(args) <= high):
        return
    if high is None:
        wanted = f"at least {low} argument{'s' if low != 1 else ''}"
    else:
        wanted = f"{low} argument{'s' if low != 1 else ''}"
    raise ExpressionError(f"'{token.text}()' takes {wanted}, got {len(args)}", token.position)


def parse(text: str) -> Expression:
    """Parse an XLSForm expression, or raise ExpressionError saying where it goes wrong."""
    if not text.strip():
        raise ExpressionError("the expression is empty", 1)
    parser = _Parser(text)
    root = parser.expression()
    if parser.current.kind != "end":
        raise _unexpected(parser.current)
    return Expression(text, root, frozenset(root.refs()))
