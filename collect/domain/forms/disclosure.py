"""What a reader may see of a form's answers: the one disclosure rule (pure).

An answer is sensitive when its question's path, or the path of a group or repeat holding it,
is marked sensitive in any version of the form: the published versions and the draft. Marking
a question is a promise to the people who answer it, so a later version that drops the mark
does not undo it for what was collected, and a draft that adds one keeps it from viewers at
once. Who may see sensitive answers is the verb `submission.sensitive` (project managers);
everyone else gets the answers with every sensitive path left out, the files only those
answers name, and `meta/instanceName` whenever the form computes it from a sensitive answer
(`concat(${observer_code}, ' ', ${region})`) or in a way this module cannot read.

Every reader of answers asks a `Disclosure` (JSON, XML, attachments, exports, OData, pages,
the evaluation report); `forms.disclosures.of` builds one for an actor and a form from the
stored versions. Nothing here imports Flask or the database: the rule is tested on literal
fields and XForms.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from collect.domain.forms.xform import Field, XForm

INSTANCE_NAME = "/meta/instanceName"


@dataclass(frozen=True)
class Version:
    """What one version of a form tells the rule."""

    sensitive: frozenset[str]  # paths marked sensitive: questions, groups, repeats
    binaries: frozenset[str]  # paths of file questions (their answers are file names)
    questions: tuple[tuple[str, str], ...]  # (name, path) of questions outside repeats and meta
    # The paths meta/instanceName is computed from, through other calculations too; None when
    # the version computes none, or in a way `references` cannot read.
    instance_name: frozenset[str] | None


def version(fields: Iterable[Field], parsed: XForm | None) -> Version:
    """The rule's facts of one version: its fields, and its XForm (None: not read)."""
    fields = tuple(fields)
    return Version(
        sensitive=frozenset(f.path for f in fields if f.sensitive),
        binaries=frozenset(f.path for f in fields if f.type == "binary"),
        questions=tuple(
            (f.name, f.path)
            for f in fields
            if f.is_leaf and f.repeat is None and not f.path.startswith("/meta/")
        ),
        instance_name=_instance_name_sources(parsed) if parsed is not None else None,
    )


@dataclass(frozen=True)
class Disclosure:
    """What one reader may see of one form's answers, across all its versions."""

    sensitive: frozenset[str] = frozenset()  # marked sensitive in any version
    sees_sensitive: bool = False  # the reader may see sensitive answers
    instance_name: frozenset[str] | None = None  # see Version.instance_name, every version's
    binaries: frozenset[str] = frozenset()
    questions: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)

    @functools.cached_property
    def shows_instance_name(self) -> bool:
        """Whether meta/instanceName may be shown: it cannot carry a sensitive answer."""
        if self.sees_sensitive or not self.sensitive:
            return True
        if self.instance_name is None:
            return False
        return not any(_under(ref, self.sensitive) for ref in self.instance_name)

    @functools.cached_property
    def hidden(self) -> frozenset[str]:
        """The paths left out, with everything under them."""
        hidden = set() if self.sees_sensitive else set(self.sensitive)
        if not self.shows_instance_name:
            hidden.add(INSTANCE_NAME)
        return frozenset(hidden)

    @property
    def withholds(self) -> bool:
        """Whether anything of this form's answers is kept from the reader."""
        return bool(self.hidden)

    def hides(self, path: str) -> bool:
        """Whether the answer at `path` (a question, group or repeat) is kept from the reader."""
        return bool(self.hidden) and _under(path, self.hidden)

    def hides_question(self, name: str) -> bool:
        """Whether a question named `name` (as indicators name them) is hidden in any version."""
        return any(self.hides(path) for path in self.questions.get(name, ()))

    @property
    def withholds_files(self) -> bool:
        """Whether some file question is hidden, so some files may be kept from the reader."""
        return any(self.hides(path) for path in self.binaries)

    def without_sensitive(self) -> Disclosure:
        """The same rule for a reader who does not see sensitive answers, whoever asks (the
        OData feed, and exports unless a manager asks for sensitive=include)."""
        return dataclasses.replace(self, sees_sensitive=False)

    def instance_name_of(self, name: str | None) -> str | None:
        """A submission's stored instanceName, or None when it is kept from the reader."""
        return name if self.shows_instance_name else None

    def values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Stored values ({path: text}, repeats as lists of the same) without hidden answers."""
        if not self.hidden:
            return dict(values)
        out: dict[str, Any] = {}
        for path, value in values.items():
            if self.hides(path):
                continue
            if isinstance(value, list):
                value = [self.values(v) if isinstance(v, Mapping) else v for v in value]
            out[path] = value
        return out

    def hidden_files(self, values: Mapping[str, Any]) -> frozenset[str]:
        """Names of files that only hidden questions of a submission name."""
        if not self.withholds_files:
            return frozenset()
        hidden: set[str] = set()
        shown: set[str] = set()

        def visit(node: Mapping[str, Any]) -> None:
            for path, value in node.items():
                if isinstance(value, list):
                    for item in value:
                        if isinstance(item, Mapping):
                            visit(item)
                elif path in self.binaries and isinstance(value, str) and value.strip():
                    (hidden if self.hides(path) else shown).add(value.strip())

        visit(values)
        return frozenset(hidden - shown)


def combine(versions: Iterable[Version], *, sees_sensitive: bool) -> Disclosure:
    """The rule over every version of a form, for a reader who may or may not see sensitive
    answers: sensitive in one version is sensitive in all."""
    sensitive: set[str] = set()
    binaries: set[str] = set()
    questions: dict[str, set[str]] = {}
    sources: set[str] | None = set()
    for v in versions:
        sensitive |= v.sensitive
        binaries |= v.binaries
        for name, path in v.questions:
            questions.setdefault(name, set()).add(path)
        sources = None if sources is None or v.instance_name is None else sources | v.instance_name
    return Disclosure(
        sensitive=frozenset(sensitive),
        sees_sensitive=sees_sensitive,
        instance_name=frozenset(sources) if sources is not None else None,
        binaries=frozenset(binaries),
        questions={name: frozenset(paths) for name, paths in questions.items()},
    )


def _under(path: str, roots: frozenset[str]) -> bool:
    """Whether `path` is one of `roots` or inside one."""
    while path:
        if path in roots:
            return True
        path = path.rpartition("/")[0]
    return False


# Reading what a calculation is made of -------------------------------------------------------

_NAME = r"[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?"
_TOKEN = re.compile(
    rf"""\s*(?:
      (?P<string>'[^']*'|"[^"]*")
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<path>/{_NAME}(?:/{_NAME})*)
    | (?P<word>(?:and|or|div|mod)(?![\w.:-]))
    | (?P<function>{_NAME}(?=\s*\())
    | (?P<op>!=|<=|>=|[=<>+\-*|(),])
    )""",
    re.VERBOSE,
)


def references(expression: str, root_name: str) -> frozenset[str] | None:
    """The primary-instance paths an XPath expression reads, as fields name them (`/region`);
    None when it reads anything else this cannot follow: a relative path (`../x`, `.`), a
    predicate, an attribute, a wildcard, or a path into a secondary instance."""
    found: set[str] = set()
    pos, previous = 0, ""
    while pos < len(expression):
        if not expression[pos:].strip():
            break
        match = _TOKEN.match(expression, pos)
        if match is None or match.end() == pos:
            return None
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "path":
            # instance('x')/root/item: a path that goes on from a function's nodes.
            head, _, rest = text[1:].partition("/")
            if previous == ")" or head != root_name:
                return None
            found.add("/" + rest if rest else "/")
        pos, previous = match.end(), text
    return frozenset(found)


def _instance_name_sources(parsed: XForm) -> frozenset[str] | None:
    """What meta/instanceName is computed from, following calculations it reads."""
    calculates = parsed.calculates
    if INSTANCE_NAME not in calculates:
        return None
    sources: set[str] = set()
    pending = [INSTANCE_NAME]
    while pending:
        refs = references(calculates[pending.pop()], parsed.root_name)
        if refs is None:
            return None
        for ref in refs - sources:
            sources.add(ref)
            if ref in calculates:
                pending.append(ref)
    return frozenset(sources)
