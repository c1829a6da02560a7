"""The `indicators` sheet of an XLSForm: read from the workbook, validated against the form."""

from __future__ import annotations

import dataclasses
import io
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from collect.domain.evaluation import expressions
from collect.domain.evaluation.expressions import Expression, ExpressionError
from collect.errors import InvalidForm, Problem

if TYPE_CHECKING:  # the questions of a form; importing forms here would be a cycle
    from collect.domain.forms import xform

SHEET = "indicators"
SECTIONS = ("participation", "impact")
TYPES = ("count", "distinct", "sum", "mean", "percent", "change")
COLUMNS = (
    "name",
    "section",
    "label",
    "type",
    "field",
    "where",
    "condition",
    "by",
    "baseline_form",
    "key",
    "target",
    "restricted",
)
QUESTION_TYPES = frozenset(
    {
        "select_one",
        "select_multiple",
        "integer",
        "decimal",
        "text",
        "date",
        "datetime",
        "time",
        "geopoint",
        "binary",
        "other",
    }
)
NUMERIC = frozenset({"integer", "decimal"})
SELECTS = frozenset({"select_one", "select_multiple"})
MAX_CROSS = 3

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_YES = frozenset({"yes", "true", "1", "y", "true()"})
_NO = frozenset({"", "no", "false", "0", "n", "false()"})
_BAND = re.compile(r"(?P<low>\d+(?:\.\d+)?)(?:-(?P<high>\d+(?:\.\d+)?)|(?P<open>\+))")
_LANGUAGE_CODE = re.compile(r"\(([^()]*)\)\s*$")


# The form, as the sheet sees it --------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One choice of a select question; `labels` is keyed by language ("French (fr)", "default")."""

    name: str
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    """A question of a form, reduced to what indicators need.

    `type` is one of QUESTION_TYPES; a calculate whose bind type is int or decimal is numeric.
    `sensitive`: the disclosure rule hides it (domain/forms/disclosure.py), so only a
    restricted indicator may use it.
    """

    name: str
    type: str
    choices: tuple[Choice, ...] = ()
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    sensitive: bool = False

    def __post_init__(self) -> None:
        if self.type not in QUESTION_TYPES:
            raise ValueError(f"unknown question type {self.type!r}; use question_type()")

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC

    @property
    def is_select(self) -> bool:
        return self.type in SELECTS


_KINDS = {
    "int": "integer",
    "dateTime": "datetime",
    "string": "text",
    "select1": "select_one",
    "select": "select_multiple",
    "rank": "select_multiple",
    "barcode": "text",
}


def question_type(kind: str) -> str:
    """Map a question kind (select_one, integer, dateTime, int, geotrace...) to a Question type."""
    kind = _KINDS.get(kind, kind)
    return kind if kind in QUESTION_TYPES else "other"


def questions(
    fields: Iterable[xform.Field], sensitive: Callable[[str], bool] = lambda name: False
) -> dict[str, Question]:
    """The questions indicators may use: leaf fields outside repeats (and outside meta), by
    name; `sensitive` says which names the disclosure rule hides."""
    found: dict[str, Question] = {}
    for f in fields:
        if not f.is_leaf or f.repeat is not None or f.path.startswith("/meta/") or f.name in found:
            continue
        choices = tuple(Choice(c.name, dict(c.labels)) for c in f.choices)
        kind = question_type(f.kind)
        found[f.name] = Question(f.name, kind, choices, dict(f.labels), sensitive(f.name))
    return found


def pick_label(labels: Mapping[str, str], lang: str | None) -> str | None:
    """The label in `lang` ("French (fr)", "French" or "fr"), else the default, else the first."""
    if lang:
        wanted = lang.strip().casefold()
        for key, text in labels.items():
            if text and wanted in _language_names(key):
                return text
    if labels.get("default"):
        return labels["default"]
    return next((text for text in labels.values() if text), None)


def _language_names(key: str) -> set[str]:
    names = {key.casefold(), _LANGUAGE_CODE.sub("", key).strip().casefold()}
    code = _LANGUAGE_CODE.search(key)
    if code:
        names.add(code.group(1).strip().casefold())
    return names


# Disaggregation items --------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A numeric band as written ("0-17", "60+"): both bounds inclusive, `high` None if open."""

    label: str
    low: float
    high: float | None

    def contains(self, value: float) -> bool:
        return self.low <= value and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class Part:
    """A question to disaggregate by: by its choices, or by `bands` when it is numeric."""

    question: str
    bands: tuple[Band, ...] = ()


@dataclass(frozen=True)
class Dimension:
    """One item of `by` as written (`sex`, `age:0-17,18+`, `sex*institution`), and its parts."""

    item: str
    parts: tuple[Part, ...]

    @property
    def is_cross(self) -> bool:
        return len(self.parts) > 1


def parse_dimension(item: str) -> Dimension:
    """Parse one `by` item, or raise ValueError with a message for the form author."""
    pieces = item.split("*")
    if len(pieces) > MAX_CROSS:
        raise ValueError(
            f"'{item}' crosses {len(pieces)} items; a cross joins at most {MAX_CROSS}"
            " (e.g. sex*institution)"
        )
    parts = tuple(_parse_part(piece, item) for piece in pieces)
    names = [p.question for p in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"'{item}' crosses a question with itself")
    return Dimension(item, parts)


def _parse_part(piece: str, item: str) -> Part:
    name, colon, bands_text = piece.partition(":")
    if not name:
        raise ValueError(f"'{item}' has an empty item; write e.g. sex*institution")
    if not colon:
        return Part(name)
    return Part(name, _parse_bands(bands_text, piece))


def _parse_bands(text: str, piece: str) -> tuple[Band, ...]:
    bands: list[Band] = []
    for written in text.split(","):
        match = _BAND.fullmatch(written)
        if match is None:
            raise ValueError(
                f"'{written}' in '{piece}' is not a band; write bands like age:0-17,18-59,60+"
            )
        high = None if match["open"] else float(match["high"])
        band = Band(written, float(match["low"]), high)
        _check_band(band, bands, piece)
        bands.append(band)
    return tuple(bands)


def _check_band(band: Band, previous: Sequence[Band], piece: str) -> None:
    if band.high is not None and band.high < band.low:
        raise ValueError(f"band '{band.label}' in '{piece}' ends before it starts")
    if not previous:
        return
    last = previous[-1]
    if last.high is None:
        raise ValueError(f"only the last band of '{piece}' may be open ('{last.label}')")
    if band.low <= last.high:
        raise ValueError(
            f"band '{band.label}' in '{piece}' overlaps '{last.label}';"
            " list bands in increasing order, without overlap"
        )


# Indicators ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """One validated row of the sheet."""

    name: str
    section: str
    labels: Mapping[str, str]
    type: str
    field: str | None = None
    where: Expression | None = None
    condition: Expression | None = None
    by: tuple[Dimension, ...] = ()
    baseline_form: str | None = None
    key: str | None = None
    target: float | None = None
    waiting_for: str | None = None  # a baseline form the project does not have yet
    restricted: bool = False  # for project managers only: it may use sensitive questions

    def label(self, lang: str | None = None) -> str:
        return pick_label(self.labels, lang) or self.name

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that from_dict() turns back into this indicator."""
        return {
            "name": self.name,
            "section": self.section,
            "labels": dict(self.labels),
            "type": self.type,
            "field": self.field,
            "where": self.where.text if self.where else None,
            "condition": self.condition.text if self.condition else None,
            "by": [d.item for d in self.by],
            "baseline_form": self.baseline_form,
            "key": self.key,
            "target": self.target,
            "waiting_for": self.waiting_for,
            "restricted": self.restricted,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Indicator:
        """Rebuild an indicator stored with to_dict(); the text was validated when it was stored."""
        return cls(
            name=data["name"],
            section=data["section"],
            labels=dict(data["labels"]),
            type=data["type"],
            field=data.get("field"),
            where=_maybe_expression(data.get("where")),
            condition=_maybe_expression(data.get("condition")),
            by=tuple(parse_dimension(item) for item in data.get("by") or ()),
            baseline_form=data.get("baseline_form"),
            key=data.get("key"),
            target=data.get("target"),
            waiting_for=data.get("waiting_for"),
            restricted=bool(data.get("restricted")),
        )


def _maybe_expression(text: str | None) -> Expression | None:
    return expressions.parse(text) if text else None


# Reading the sheet -------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetRow:
    """A non-blank row of the sheet: its 1-based row number and its cells by column name."""

    row: int
    cells: dict[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


def read_sheet(workbook: bytes, file_type: str) -> list[SheetRow] | None:
    """Read the `indicators` sheet of an .xlsx or .xls workbook; None when there is none."""
    kind = file_type.lower().lstrip(".")
    if kind not in ("xlsx", "xls"):
        raise InvalidForm(f"Indicators can only be read from .xlsx or .xls files, not .{kind}.")
    try:
        grid = _xlsx_grid(workbook) if kind == "xlsx" else _xls_grid(workbook)
    except Exception as e:  # both readers raise many unrelated types for a damaged file
        raise InvalidForm(f"The workbook cannot be read: {e}.") from e
    return None if grid is None else _sheet_rows(grid)


def _xlsx_grid(workbook: bytes) -> list[list[str]] | None:
    import openpyxl

    # Real XLSForms carry data validations and other extensions openpyxl warns about.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(io.BytesIO(workbook), read_only=True, data_only=True)
    try:
        name = _find_sheet(book.sheetnames)
        if name is None:
            return None
        # read_only mode yields every row from 1, blank ones included, so positions are rows.
        return [[_text(v) for v in row] for row in book[name].iter_rows(values_only=True)]
    finally:
        book.close()


def _xls_grid(workbook: bytes) -> list[list[str]] | None:
    import xlrd

    book = xlrd.open_workbook(file_contents=workbook)
    name = _find_sheet(book.sheet_names())
    if name is None:
        return None
    sheet = book.sheet_by_name(name)
    grid: list[list[str]] = []
    for r in range(sheet.nrows):
        row: list[str] = []
        for cell in sheet.row(r):
            value: Any = cell.value
            if cell.ctype == xlrd.XL_CELL_DATE:
                value = xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                value = bool(cell.value)
            row.append(_text(value))
        grid.append(row)
    return grid


def _find_sheet(names: Iterable[str]) -> str | None:
    return next((n for n in names if n.strip().lower() == SHEET), None)


def _text(value: object) -> str:
    """Render a cell as the author typed it: 8, not 8.0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _sheet_rows(grid: list[list[str]]) -> list[SheetRow]:
    numbered = [(i, row) for i, row in enumerate(grid, start=1) if any(row)]
    if not numbered:
        return []
    _, header = numbered[0]
    columns = [_column_name(h) for h in header]
    rows = []
    for number, cells in numbered[1:]:
        named = {col: text for col, text in zip(columns, cells, strict=False) if col}
        rows.append(SheetRow(number, named))
    return rows


def _column_name(header: str) -> str:
    # Column names are case-insensitive; a language in label::Français (fr) is kept as written.
    head, sep, language = header.strip().partition("::")
    return f"{head.strip().lower()}{sep}{language.strip()}"


# Validating the sheet ----------------------------------------------------------------------


@dataclass
class _Context:
    questions: Mapping[str, Question]
    form_id: str
    project_forms: Mapping[str, Mapping[str, Question]]
    taken_names: set[str]
    problems: list[Problem] = dataclasses.field(default_factory=list)
    seen: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclass
class _Row:
    """One row being validated: reads cells and records problems at this row."""

    sheet_row: SheetRow
    context: _Context

    def get(self, column: str) -> str:
        return self.sheet_row.get(column)

    @property
    def restricted(self) -> bool:
        return self.get("restricted").lower() in _YES

    def problem(self, column: str | None, message: str) -> None:
        self.context.problems.append(
            Problem(message, sheet=SHEET, row=self.sheet_row.row, column=column)
        )

    def question(self, column: str, name: str) -> Question | None:
        question = self.context.questions.get(name)
        if question is None:
            self.problem(column, f"the form has no question named '{name}'")
        else:
            self.not_sensitive(column, question)
        return question

    def not_sensitive(self, column: str, question: Question, where: str = "") -> None:
        """Refuse a sensitive question in an indicator everyone who reads the report sees."""
        if question.sensitive and not self.restricted:
            self.problem(
                column,
                f"'{question.name}' is a sensitive question{where} (personal data), and "
                "everyone who may read the report would see what the indicator says of it; "
                "write yes in the restricted column to show the indicator to project managers "
                "only, or use another question",
            )


def parse(
    rows: Sequence[SheetRow],
    questions: Mapping[str, Question],
    *,
    form_id: str,
    project_forms: Mapping[str, Mapping[str, Question]],
    taken_names: set[str],
) -> list[Indicator]:
    """Validate the sheet's rows against the form; raise InvalidForm listing every problem.

    `project_forms` maps the project's other form ids to their questions; `taken_names` holds
    the indicator names those forms already use.
    """
    context = _Context(questions, form_id, project_forms, taken_names)
    _check_columns(rows, context)
    indicators = []
    for sheet_row in rows:
        indicator = _parse_row(_Row(sheet_row, context))
        if indicator is not None:
            indicators.append(indicator)
    if context.problems:
        raise InvalidForm("The indicators sheet has problems.", problems=context.problems)
    return indicators


def _check_columns(rows: Sequence[SheetRow], context: _Context) -> None:
    reported: set[str] = set()
    for sheet_row in rows:
        for column, text in sheet_row.cells.items():
            if text and column not in reported and not _known_column(column):
                reported.add(column)
                _Row(sheet_row, context).problem(
                    column,
                    f"unknown column '{column}'; the columns are {', '.join(COLUMNS)}"
                    " and label::Language (code)",
                )


def _known_column(column: str) -> bool:
    return column in COLUMNS or (column.startswith("label::") and len(column) > len("label::"))


def _parse_row(row: _Row) -> Indicator | None:
    problems_before = len(row.context.problems)
    restricted = _read_restricted(row)
    name = _read_name(row)
    section = _read_choice(row, "section", SECTIONS)
    kind = _read_choice(row, "type", TYPES)
    labels = _read_labels(row)
    field = _read_field(row, kind)
    where = _read_expression(row, "where")
    condition = _read_condition(row, kind)
    by = _read_by(row)
    target = _read_target(row)
    baseline_form, key, waiting_for = _read_change(row, kind, field)
    if len(row.context.problems) > problems_before or not (name and section and kind):
        return None
    return Indicator(
        name=name,
        section=section,
        labels=labels,
        type=kind,
        field=field,
        where=where,
        condition=condition,
        by=by,
        baseline_form=baseline_form,
        key=key,
        target=target,
        waiting_for=waiting_for,
        restricted=restricted,
    )


def _read_restricted(row: _Row) -> bool:
    text = row.get("restricted").lower()
    if text not in _YES | _NO:
        row.problem(
            "restricted",
            f"restricted is yes or no, not '{row.get('restricted')}'; yes shows the indicator "
            "to project managers only",
        )
    return row.restricted


def _read_name(row: _Row) -> str | None:
    name = row.get("name")
    if not name:
        row.problem("name", "the name is missing; give each indicator an identifier")
        return None
    if not _NAME.fullmatch(name):
        row.problem(
            "name",
            f"'{name}' is not a valid name; use lower-case letters, digits and _,"
            " starting with a letter (e.g. women_trained)",
        )
        return None
    seen = row.context.seen
    if name in seen:
        row.problem("name", f"the name '{name}' is already used on row {seen[name]}")
        return None
    seen[name] = row.sheet_row.row
    if name in row.context.taken_names:
        row.problem("name", f"the name '{name}' is already used by another form of this project")
        return None
    return name


def _read_choice(row: _Row, column: str, allowed: Sequence[str]) -> str | None:
    text = row.get(column)
    if not text:
        row.problem(column, f"the {column} is missing; use one of {', '.join(allowed)}")
        return None
    if text.lower() not in allowed:
        row.problem(column, f"unknown {column} '{text}'; use one of {', '.join(allowed)}")
        return None
    return text.lower()


def _read_labels(row: _Row) -> dict[str, str]:
    labels = {}
    for column, text in row.sheet_row.cells.items():
        if text and column == "label":
            labels["default"] = text
        elif text and column.startswith("label::"):
            labels[column.removeprefix("label::")] = text
    if not labels:
        row.problem("label", "the label is missing; say what the report should print")
    return labels


def _read_field(row: _Row, kind: str | None) -> str | None:
    name = row.get("field")
    if kind == "count":
        if name:
            row.problem(
                "field", "a count counts submissions and takes no field; remove it or use distinct"
            )
        return None
    if not name:
        if kind is not None:
            row.problem("field", f"a {kind} indicator needs a field: a question of this form")
        return None
    question = row.question("field", name)
    if question is None or kind is None:
        return name
    if kind in ("sum", "mean", "change") and not question.is_numeric:
        row.problem(
            "field",
            f"a {kind} needs a numeric question (integer or decimal); '{name}' is {question.type}",
        )
    return name


def _read_expression(row: _Row, column: str) -> Expression | None:
    text = row.get(column)
    if not text:
        return None
    try:
        parsed = expressions.parse(text)
    except ExpressionError as e:
        row.problem(column, f"the expression cannot be read: {e.message}")
        return None
    for ref in sorted(parsed.refs):
        question = row.context.questions.get(ref)
        if question is None:
            row.problem(column, f"${{{ref}}} is not a question of this form")
        else:
            row.not_sensitive(column, question)
    return parsed


def _read_condition(row: _Row, kind: str | None) -> Expression | None:
    if kind == "percent" and not row.get("condition"):
        row.problem(
            "condition",
            "a percent needs a condition, e.g. ${sex} = 'female': the share for which it holds",
        )
        return None
    if kind not in ("percent", None) and row.get("condition"):
        row.problem("condition", "only a percent takes a condition; remove it or use 'where'")
        return None
    return _read_expression(row, "condition")


def _read_by(row: _Row) -> tuple[Dimension, ...]:
    dimensions = []
    for item in row.get("by").split():
        try:
            dimension = parse_dimension(item)
        except ValueError as e:
            row.problem("by", str(e))
            continue
        if all([_check_part(row, part) for part in dimension.parts]):
            dimensions.append(dimension)
    return tuple(dimensions)


def _check_part(row: _Row, part: Part) -> bool:
    question = row.question("by", part.question)
    if question is None:
        return False
    if part.bands and not question.is_numeric:
        row.problem("by", f"bands need a numeric question; '{part.question}' is {question.type}")
        return False
    if not part.bands and not question.is_select:
        hint = (
            f"; add bands, e.g. {part.question}:0-17,18-59,60+"
            if question.is_numeric
            else "; disaggregate by select_one or select_multiple questions"
        )
        row.problem("by", f"cannot disaggregate by '{part.question}' ({question.type}){hint}")
        return False
    return True


def _read_target(row: _Row) -> float | None:
    text = row.get("target")
    if not text:
        return None
    try:
        target = float(text)
    except ValueError:
        target = math.nan
    if not math.isfinite(target):
        row.problem("target", f"the target must be a number, e.g. 80; '{text}' is not")
        return None
    return target


def _read_change(
    row: _Row, kind: str | None, field: str | None
) -> tuple[str | None, str | None, str | None]:
    """Read baseline_form and key; the third value is the baseline form still to come."""
    baseline, key = row.get("baseline_form"), row.get("key")
    if kind != "change":
        for column in ("baseline_form", "key"):
            if kind is not None and row.get(column):
                row.problem(column, f"only a change takes a {column}; remove it")
        return None, None, None
    if not baseline:
        row.problem("baseline_form", "a change needs baseline_form: the form_id of the pre-test")
    elif baseline == row.context.form_id:
        row.problem("baseline_form", "the baseline form must be another form than this one")
    if not key:
        row.problem("key", "a change needs a key: the question that identifies a person")
    else:
        row.question("key", key)
    baseline_questions = row.context.project_forms.get(baseline)
    if baseline_questions is None:
        return baseline, key, baseline or None
    _check_baseline(row, baseline, baseline_questions, field, key)
    return baseline, key, None


def _check_baseline(
    row: _Row,
    baseline: str,
    questions: Mapping[str, Question],
    field: str | None,
    key: str,
) -> None:
    # Only what fits this form is looked for in the baseline: one problem per mistake.
    this_form = row.context.questions
    if field and field in this_form and this_form[field].is_numeric:
        if field not in questions:
            row.problem("field", f"the baseline form '{baseline}' has no question named '{field}'")
        elif not questions[field].is_numeric:
            row.problem("field", f"'{field}' is not numeric in the baseline form '{baseline}'")
    if key and key in this_form and key not in questions:
        row.problem("key", f"the baseline form '{baseline}' has no question named '{key}'")
    for column, name in (("field", field), ("key", key)):
        if name and name in questions and not (name in this_form and this_form[name].sensitive):
            row.not_sensitive(column, questions[name], f" of the baseline form '{baseline}'")
