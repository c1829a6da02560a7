"""The tables of a submission export, laid out as ODK Central and Briefcase lay them out.

Pure: fields and submission values in, column headers and rows out; nothing here touches
Flask or the database, so the layout is tested on literal XML. One root table has
`SubmissionDate`, the fields (group paths joined by `-`), then `KEY` and Central's metadata
columns; each repeat, nested ones too, gets a table of its fields followed by `PARENT_KEY`
and `KEY`. Keys follow Briefcase: `uuid:…/group/repeat[2]/inner[1]`, the parent key of a
nested repeat being the key of the row it sits in.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from collect.domain.forms.disclosure import INSTANCE_NAME, Disclosure
from collect.domain.forms.xform import Choice, Field
from collect.errors import BadRequest

ROOT_META = (
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
)
GEO_PARTS = ("Latitude", "Longitude", "Altitude", "Accuracy")
# Labels of several chosen options share one cell; a space would be ambiguous in labels.
LABEL_SEPARATOR = "; "

# Column types, for spreadsheets: numbers as numbers and dates as dates.
TEXT, INTEGER, DECIMAL, DATE, DATETIME, COUNT = "text", "int", "decimal", "date", "dateTime", "n"
_TYPES = {"int": INTEGER, "integer": INTEGER, "decimal": DECIMAL, "date": DATE}
_TYPES["dateTime"] = DATETIME

# OWASP's list: a cell that starts with one of these may run as a formula in a spreadsheet.
FORMULA_START = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_UNSAFE_FILENAME = re.compile(r'[/\\?<>:*|"\x00-\x1f\x80-\x9f]')


def neutralise(value: str) -> str:
    """Make a text that a spreadsheet would run as a formula inert; numbers stay as they are."""
    if value and value[0] in FORMULA_START and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def is_formula_like(value: str) -> bool:
    return bool(value) and value[0] in FORMULA_START and not _NUMBER.fullmatch(value)


def submission_date(created_at: datetime) -> str:
    """Central's SubmissionDate: UTC with milliseconds, as JavaScript's toISOString writes it."""
    if created_at.tzinfo is not None:
        created_at = created_at.astimezone(UTC).replace(tzinfo=None)
    return created_at.isoformat(timespec="milliseconds") + "Z"


def safe_filename(name: str) -> str:
    """Strip what a file system refuses from a table's file name."""
    return _UNSAFE_FILENAME.sub("", name).strip(". ") or "form"


# Versions -----------------------------------------------------------------------------------


def merge_versions(versions: Sequence[Sequence[Field]]) -> list[Field]:
    """Fields of every version, oldest first in, newest layout out (Central's deleted fields).

    Each later version keeps its own order; a field only older versions had is put back, with
    its subtree, after the last field of its parent group, so it stays in its table.
    """
    if not versions:
        return []
    result = list(versions[0])
    for newer in versions[1:]:
        result = _merge(result, list(newer))
    return _enrich(result, versions)


def current_fields(versions: Sequence[Sequence[Field]]) -> list[Field]:
    """The newest version's fields, with the choices of every version."""
    return _enrich(list(versions[-1]), versions) if versions else []


def _merge(older: list[Field], newer: list[Field]) -> list[Field]:
    result = list(newer)
    known = {f.path for f in newer}
    i = 0
    while i < len(older):
        field_ = older[i]
        if field_.path in known:
            i += 1
            continue
        parent = field_.path.rsplit("/", 1)[0]
        end = i + 1
        while end < len(older) and older[end].path.startswith(field_.path + "/"):
            end += 1
        at = len(result)
        while at > 0 and not _within(result[at - 1].path, parent):
            at -= 1
        result[at:at] = older[i:end]
        known.update(f.path for f in older[i:end])
        i = end
    return result


def _within(path: str, parent: str) -> bool:
    return parent == "" or path == parent or path.startswith(parent + "/")


def _enrich(fields: list[Field], versions: Sequence[Sequence[Field]]) -> list[Field]:
    """Union the choices of a select across versions (what is hidden is the rule's, in
    domain/forms/disclosure.py, which reads every version too)."""
    choices: dict[str, list[Choice]] = {}
    for version in reversed(versions):
        for f in version:
            if f.choices:
                known = choices.setdefault(f.path, [])
                names = {c.name for c in known}
                known.extend(c for c in f.choices if c.name not in names)
    out = []
    for f in fields:
        merged = tuple(choices.get(f.path, f.choices))
        if merged != f.choices:
            f = dataclasses.replace(f, choices=merged)
        out.append(f)
    return out


# Languages ----------------------------------------------------------------------------------


def resolve_language(requested: str, languages: Sequence[str]) -> str:
    """Find a form language by its name (`French (fr)`), its code (`fr`) or its bare name."""
    wanted = requested.strip().casefold()
    for language in languages:
        name = language.casefold()
        code = re.search(r"\(([^()]+)\)\s*$", language)
        bare = re.sub(r"\s*\([^()]*\)\s*$", "", language).casefold()
        if wanted in (name, bare) or (code and wanted == code.group(1).casefold()):
            return language
    if wanted == "default":
        return "default"
    known = ", ".join(f"'{lang}'" for lang in languages) or "none (use 'default')"
    raise BadRequest(
        f"The form has no language '{requested}'. Languages: {known}; give a name or its code."
    )


# Layout -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    type: str = TEXT


@dataclass
class Table:
    """One CSV file or sheet: the root, or one repeat."""

    name: str  # file name without .csv: "{form id}" or "{form id}-{repeat}"
    repeat: str | None  # repeat path; None for the root
    step: str  # from the parent row's key to this one's: "group/repeat"
    columns: list[Column] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)  # columns the reader may not see
    children: list[int] = field(default_factory=list)  # tables of repeats directly inside
    plan: list[tuple[int, Any]] = field(default_factory=list)

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.columns]


class SubmissionInfo(NamedTuple):
    """What the root table says about a submission besides its values."""

    instance_id: str  # the logical submission's first instanceID (KEY)
    created_at: datetime
    submitter_id: int | None
    submitter_name: str
    attachments_present: int
    attachments_expected: int
    status: str
    review_state: str | None
    device_id: str | None
    edits: int
    form_version: str
    updated_at: datetime | None = None  # the OData feed's __system/updatedAt
    row_id: int = 0  # Submission.id: where a feed's next page starts


# Plan steps: how a row is filled from one values dict.
_PLAIN, _GEO, _SELECT, _MULTI = range(4)
Row = list[str]
Filler = Callable[[Mapping[str, Any]], Row]


@dataclass
class Layout:
    """Every table of an export and how to fill them from a submission's values."""

    tables: list[Table]
    withheld_tables: list[str]  # repeat tables the reader may not see at all
    fillers: list[Filler] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fillers = [_compile(t.plan) for t in self.tables]

    @property
    def withheld(self) -> list[str]:
        """`table: column` for every column left out, for the note that goes with the export."""
        out = [f"{t.name}.csv: {c}" for t in self.tables for c in t.withheld]
        out.extend(f"{name}.csv (the whole table)" for name in self.withheld_tables)
        return out

    def rows(self, sub: SubmissionInfo, values: Mapping[str, Any] | None) -> list[tuple[int, Row]]:
        """The rows of one submission, (table index, row): repeat rows first, the root last."""
        root = self.tables[0]
        key = sub.instance_id
        out: list[tuple[int, Row]] = []
        if values is None:  # encrypted and not decrypted: metadata only
            row = [""] * (len(root.columns) - 1 - len(ROOT_META))
        else:
            row = self.fillers[0](values)
            for child in root.children:
                self._repeat(child, values, key, out)
        row.insert(0, submission_date(sub.created_at))
        row += (
            key,
            "" if sub.submitter_id is None else str(sub.submitter_id),
            sub.submitter_name,
            str(sub.attachments_present),
            str(sub.attachments_expected),
            sub.status,
            sub.review_state or "",
            sub.device_id or "",
            str(sub.edits),
            sub.form_version,
        )
        out.append((0, row))
        return out

    def _repeat(
        self, index: int, values: Mapping[str, Any], parent_key: str, out: list[tuple[int, Row]]
    ) -> None:
        table = self.tables[index]
        items = values.get(table.repeat or "")
        if not isinstance(items, list):
            return
        fill = self.fillers[index]
        step = f"{parent_key}/{table.step}["
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                continue
            key = f"{step}{n}]"
            row = fill(item)
            row += (parent_key, key)
            out.append((index, row))
            for child in table.children:
                self._repeat(child, item, key, out)


def _compile(plan: list[tuple[int, Any]]) -> Filler:
    """Turn a table's plan into one function that builds a row as a single list display.

    Rows are built once per submission and repeat, hundreds of thousands of times an export, so
    the plan is not interpreted each time. Paths enter the source only through repr().
    """
    cells: list[str] = []
    constants: dict[str, Any] = {"_geo": _geo, "_choose": _choose, "_multi": _multi}
    for i, (op, arg) in enumerate(plan):
        if op == _PLAIN:
            # Leaves hold text; the writers turn anything else (a type changed between
            # versions) into an empty cell.
            cells.extend(f"get({path!r}, '')" for path in arg)
        elif op == _GEO:
            cells.append(f"*_geo(get({arg!r}))")
        elif op == _SELECT:
            path, names = arg
            constants[f"names{i}"] = names
            cells.append(f"_choose(names{i}, get({path!r}))")
        else:
            path, names, choices = arg
            constants[f"names{i}"], constants[f"choices{i}"] = names, choices
            cells.append(f"*_multi(get({path!r}), names{i}, choices{i})")
    source = f"def fill(values):\n    get = values.get\n    return [{', '.join(cells)}]\n"
    exec(compile(source, "<export row>", "exec"), constants)
    filler: Filler = constants["fill"]
    return filler


def _geo(value: Any) -> list[str]:
    return [*_text(value).split(), "", "", "", ""][:4]


def _choose(names: Mapping[str, str], value: Any) -> str:
    text = _text(value)
    return names.get(text, text)


def _multi(value: Any, names: Mapping[str, str] | None, choices: Sequence[str] | None) -> Row:
    text = _text(value)
    chosen = text.split()
    first = text if names is None else LABEL_SEPARATOR.join(names.get(c, c) for c in chosen)
    if choices is None:
        return [first]
    picked = set(chosen)
    return [first, *("1" if c in picked else "0" for c in choices)]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class Options:
    """What shapes the tables: Central's options plus labels."""

    group_paths: bool = True
    split_select_multiples: bool = False
    language: str | None = None  # a resolved form language; None keeps choice names
    root_only: bool = False


# How the note names a withheld instanceName: no question of its own is marked sensitive.
INSTANCE_NAME_NOTE = " (the submission's name, which may hold sensitive answers)"


def layout(
    xml_form_id: str, fields: Sequence[Field], options: Options, shown: Disclosure
) -> Layout:
    """Lay out the tables of an export of `fields` (in depth-first order), leaving out the
    columns and tables that `shown` hides."""
    lang = options.language
    base = safe_filename(xml_form_id)
    root = Table(name=base, repeat=None, step="")
    root.columns.append(Column("SubmissionDate", "SubmissionDate", DATETIME))
    tables = [root]
    by_repeat: dict[str | None, Table] = {None: root}
    withheld_tables: list[Table] = []
    repeat_names: list[tuple[Table, str]] = []
    hidden = shown.hides
    for f in fields:
        if f.type == "repeat":
            if options.root_only:
                continue
            parent_repeat = _parent_repeat(f.path, by_repeat)
            parent = by_repeat[parent_repeat]
            table = Table(name="", repeat=f.path, step=f.path[len(parent_repeat or "") + 1 :])
            repeat_names.append((table, f.name))
            if hidden(f.path):
                withheld_tables.append(table)
                continue
            parent.children.append(len(tables))
            tables.append(table)
            by_repeat[f.path] = table
            continue
        if f.type == "structure":
            continue
        table_found = by_repeat.get(f.repeat)
        if table_found is None:  # inside a repeat that is left out
            continue
        table = table_found
        relative = f.path[len(f.repeat or "") + 1 :]
        name = relative.replace("/", "-") if options.group_paths else f.name
        label = f.labels.get(lang, f.labels.get("default", "")) if lang else ""
        columns = _columns(f, name, label, options)
        if hidden(f.path):
            note = INSTANCE_NAME_NOTE if f.path == INSTANCE_NAME else ""
            table.withheld.extend(c.name + note for c in columns)
            continue
        table.columns.extend(columns)
        table.plan.append(_step(f, lang, options))
    for name in ROOT_META:
        root.columns.append(Column(name, name, COUNT if name in _COUNTS else TEXT))
    for table in tables[1:]:
        table.columns.append(Column("PARENT_KEY", "PARENT_KEY"))
        table.columns.append(Column("KEY", "KEY"))
    _name_repeats(base, repeat_names)
    for table in tables:
        table.plan = _compact(table.plan)
    return Layout(tables, [t.name for t in withheld_tables])


_COUNTS = frozenset({"SubmitterID", "AttachmentsPresent", "AttachmentsExpected", "Edits"})


def _parent_repeat(path: str, by_repeat: Mapping[str | None, Table]) -> str | None:
    best: str | None = None
    for repeat in by_repeat:
        if repeat and path.startswith(repeat + "/") and len(repeat) > len(best or ""):
            best = repeat
    return best


def _name_repeats(base: str, repeats: list[tuple[Table, str]]) -> None:
    """Name repeat tables `{form}-{repeat}`, numbering `~1`, `~2` when names repeat (Central)."""
    totals: dict[str, int] = {}
    for _, name in repeats:
        totals[name] = totals.get(name, 0) + 1
    counts: dict[str, int] = {}
    for table, name in repeats:
        if totals[name] > 1:
            counts[name] = counts.get(name, 0) + 1
            table.name = safe_filename(f"{base}-{name}~{counts[name]}")
        else:
            table.name = safe_filename(f"{base}-{name}")


def _columns(f: Field, name: str, label: str, options: Options) -> list[Column]:
    if f.type == "geopoint":
        return [
            Column(f"{name}-{part}", f"{label} ({part})" if label else "", DECIMAL)
            for part in GEO_PARTS
        ]
    kind = TEXT if f.control in ("select1", "select", "rank") else _TYPES.get(f.type, TEXT)
    columns = [Column(name, label, kind)]
    if f.kind == "select_multiple" and options.split_select_multiples:
        lang = options.language
        for choice in f.choices:
            choice_label = choice.labels.get(lang, choice.labels.get("default", "")) if lang else ""
            columns.append(
                Column(
                    f"{name}/{choice.name}",
                    f"{label}/{choice_label}" if label or choice_label else "",
                    COUNT,
                )
            )
    return columns


def _step(f: Field, lang: str | None, options: Options) -> tuple[int, Any]:
    if f.type == "geopoint":
        return _GEO, f.path
    names = (
        {c.name: c.labels.get(lang, c.labels.get("default", c.name)) for c in f.choices}
        if lang
        else None
    )
    if f.kind == "select_multiple":
        split = tuple(c.name for c in f.choices) if options.split_select_multiples else None
        return _MULTI, (f.path, names, split)
    if f.kind == "select_one" and names is not None:
        return _SELECT, (f.path, names)
    return _PLAIN, f.path


def _compact(plan: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Join neighbouring plain columns into one step: they fill a row in one comprehension."""
    out: list[tuple[int, Any]] = []
    for op, arg in plan:
        if op == _PLAIN and out and out[-1][0] == _PLAIN:
            out[-1][1].append(arg)
        elif op == _PLAIN:
            out.append((_PLAIN, [arg]))
        else:
            out.append((op, arg))
    return out
