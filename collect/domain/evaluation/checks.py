"""The `indicators` sheet of a new form version, read and checked against the project's forms.

Called by `forms` when a version is stored, so a sheet that does not fit its form (or the
forms it compares with) is refused at upload, with every problem located in the workbook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from collect.domain.evaluation import indicators
from collect.domain.evaluation.indicators import Indicator, Question
from collect.domain.forms import disclosure, disclosures, xform, xlsform
from collect.domain.forms import fields as form_fields
from collect.errors import InvalidForm, Problem
from collect.storage.db import db
from collect.storage.models import Form


@dataclass(frozen=True)
class _OtherForm:
    """Another form of the project, as an uploaded sheet is checked against it."""

    xml_form_id: str
    questions: Mapping[str, Question] | None  # None while it has no published version
    indicators: tuple[dict[str, Any], ...]  # of its published version and of its draft


def _other_forms(project_id: int, xml_form_id: str) -> list[_OtherForm]:
    others = db.session.scalars(
        select(Form).where(
            Form.project_id == project_id,
            Form.xml_form_id != xml_form_id,
            Form.deleted_at.is_(None),
        )
    )
    found = []
    for form in others:
        current, draft = form.current_def, form.draft_def
        defs = [d for d in (current, draft) if d is not None]
        hidden = disclosures.for_form(form, sees_sensitive=False).hides_question
        found.append(
            _OtherForm(
                form.xml_form_id,
                indicators.questions(form_fields.of(current), hidden) if current else None,
                tuple(i for d in defs for i in d.indicators or ()),
            )
        )
    return found


def _own_questions(
    project_id: int, xml_form_id: str, fields: tuple[xform.Field, ...]
) -> dict[str, Question]:
    """The new version's questions, sensitive when the rule hides them in it or in any
    published version of the form."""
    versions = [disclosure.version(fields, None)]
    form = db.session.scalar(
        select(Form).where(Form.project_id == project_id, Form.xml_form_id == xml_form_id)
    )
    if form is not None:
        versions += disclosures.versions(form, draft=False)
    rule = disclosure.combine(versions, sees_sensitive=False)
    return indicators.questions(fields, rule.hides_question)


# Reading the sheet at upload ------------------------------------------------------------------


def read_indicators(
    project_id: int,
    xml_form_id: str,
    converted: xlsform.Converted,
    fields: tuple[xform.Field, ...],
) -> list[dict[str, Any]]:
    """Read and check a new form version's `indicators` sheet; return the indicators to store.

    Also checks that this version still has what the changes of other forms compare with it,
    so a baseline form published after its endline form is checked when it arrives.
    Raises InvalidForm listing every problem.
    """
    own = _own_questions(project_id, xml_form_id, fields)
    others = _other_forms(project_id, xml_form_id)
    problems: list[Problem] = []
    parsed: list[Indicator] = []
    rows = indicators.read_sheet(converted.workbook or b"", converted.workbook_type or xlsform.XLSX)
    if rows:
        project_forms = {o.xml_form_id: o.questions for o in others if o.questions is not None}
        taken = {str(i["name"]) for o in others for i in o.indicators}
        try:
            parsed = indicators.parse(
                rows,
                own,
                form_id=xml_form_id,
                project_forms=project_forms,
                taken_names=taken,
            )
        except InvalidForm as e:
            problems += e.problems
    problems += _baseline_problems(xml_form_id, own, others)
    if problems:
        raise InvalidForm("The form does not fit the evaluation indicators.", problems)
    return [i.to_dict() for i in parsed]


def _baseline_problems(
    xml_form_id: str, own: Mapping[str, Question], others: Sequence[_OtherForm]
) -> list[Problem]:
    """What `change` indicators of other forms need from this form, when it is their baseline."""
    problems = []
    for other in others:
        for data in other.indicators:
            if data.get("type") != "change" or data.get("baseline_form") != xml_form_id:
                continue
            field, key = data.get("field") or "", data.get("key") or ""
            where = f"the indicator '{data['name']}' of form '{other.xml_form_id}'"
            if field not in own or not own[field].is_numeric:
                problems.append(
                    Problem(
                        f"{where} compares the numeric question '{field}' with this form, which"
                        f" has no numeric question named '{field}'; add it, or change that"
                        " indicator first",
                        sheet="survey",
                    )
                )
            if key not in own:
                problems.append(
                    Problem(
                        f"{where} links persons by '{key}', which this form does not ask; add"
                        " the question, or change that indicator first",
                        sheet="survey",
                    )
                )
            for name in (field, key):
                if name in own and own[name].sensitive and not data.get("restricted"):
                    problems.append(
                        Problem(
                            f"{where} reads '{name}', which this form marks sensitive (personal"
                            " data), and everyone who may read the report sees it; mark that"
                            " indicator restricted first, or leave the question unmarked",
                            sheet="survey",
                        )
                    )
    return problems
