"""Synthetic submissions for the demo project, so that its evaluation report means something.

Three trainings with about 120 participants (registration, pre-test, post-test, follow-up),
twenty consultation sessions and 150 beneficiaries' feedback, drawn from a seeded random
generator: the same submissions on every machine. They are sent as a phone sends them, through
`submissions.receive`, as XForm instances built from each form's stored field tree.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree

from sqlalchemy import func, select

from collect.domain import submissions
from collect.domain.forms import fields as form_fields
from collect.domain.forms import xform
from collect.storage.db import db
from collect.storage.models import AppUser, Form, FormDef, Submission

SEED = 20261128
DEVICE_ID = "collect:demo-seed"
USER_AGENT = "collect demo (synthetic data)"

Answers = dict[str, str]
Repeats = dict[str, list[Answers]]


@dataclass(frozen=True)
class _FormShape:
    """What building an instance of a form needs: its ids and its fields in document order."""

    xml_form_id: str
    version: str
    root_name: str
    fields: tuple[xform.Field, ...]


@dataclass(frozen=True)
class _Instance:
    xml_form_id: str
    answers: Answers
    repeats: Repeats = field(default_factory=dict)


def seed(app_user: AppUser) -> int:
    """Send the synthetic submissions to the app user's project, unless it has some already.

    The app user must be assigned to the sample forms. Returns how many were sent.
    """
    project_id = app_user.project_id
    existing = db.session.scalar(
        select(func.count(Submission.id))
        .join(Form, Form.id == Submission.form_id)
        .where(Form.project_id == project_id)
    )
    if existing:
        return 0
    shapes = _shapes(project_id)
    token = app_user.token
    assert token is not None, "a revoked app user cannot send submissions"
    rng = random.Random(SEED)
    sent = 0
    for instance in _generate(rng):
        shape = shapes.get(instance.xml_form_id)
        if shape is None:  # a sample form the project does not have
            continue
        xml = instance_xml(shape, instance.answers, instance.repeats, _uuid(rng))
        submissions.receive(token, project_id, xml, [], device_id=DEVICE_ID, user_agent=USER_AGENT)
        sent += 1
    return sent


def _shapes(project_id: int) -> dict[str, _FormShape]:
    rows = db.session.execute(
        select(Form.xml_form_id, FormDef)
        .join(FormDef, FormDef.id == Form.current_def_id)
        .where(Form.project_id == project_id, Form.deleted_at.is_(None))
    ).all()
    return {
        xml_form_id: _FormShape(
            xml_form_id,
            definition.version,
            xform.read_xform(definition.xml).root_name,
            form_fields.of(definition),
        )
        for xml_form_id, definition in rows
    }


def _uuid(rng: random.Random) -> str:
    return f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


# Building the XML -----------------------------------------------------------------------------


def instance_xml(
    shape: _FormShape, answers: Mapping[str, str], repeats: Repeats, instance_id: str
) -> bytes:
    """A filled instance of the form as ODK Collect sends it; unknown answers are left empty."""
    root = ElementTree.Element(shape.root_name, {"id": shape.xml_form_id, "version": shape.version})
    _fill(root, "", shape.fields, {**answers, "instanceID": instance_id}, repeats)
    xml: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


def _fill(
    parent: ElementTree.Element,
    path: str,
    fields: Sequence[xform.Field],
    answers: Mapping[str, str],
    repeats: Repeats,
) -> None:
    for f in fields:
        if f.path.rpartition("/")[0] != path:
            continue
        if f.type == "repeat":
            for item in repeats.get(f.path, []):
                element = ElementTree.SubElement(parent, f.name)
                _fill(element, f.path, fields, item, repeats)
        elif f.type == "structure":
            element = ElementTree.SubElement(parent, f.name)
            _fill(element, f.path, fields, answers, repeats)
        else:
            ElementTree.SubElement(parent, f.name).text = answers.get(f.name, "")


# The people and what they answer ----------------------------------------------------------------

EVENTS = (
    ("tb_reporting_tot", date(2026, 6, 9), 38),
    ("hrba_planning", date(2026, 7, 14), 42),
    ("hr_law_enforcement", date(2026, 8, 25), 40),
)
INSTITUTIONS = {
    "government": 30,
    "parliament": 5,
    "judiciary": 9,
    "law_enforcement": 12,
    "nhri": 12,
    "cso": 22,
    "un_international": 5,
    "other": 5,
}
REGIONS = {"capital": 40, "north": 16, "south": 18, "east": 14, "west": 12}
SEX = {"female": 52, "male": 46, "other": 2}
# Per domain; with six domains, about 8% of participants reach the Washington Group cut-off.
WG_LEVELS = {
    "no_difficulty": 875,
    "some_difficulty": 110,
    "a_lot_of_difficulty": 12,
    "cannot_do": 3,
}
WG_DOMAINS = ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")
# The right answer of each test question, as the forms' calculations score them.
KEY = {"q1": "b", "q2": "a", "q3": "d", "q4": "b", "q5": "c", "q6": "c", "q7": "a", "q8": "d"}
OPTIONS = ("a", "b", "c", "d")


def _pick(rng: random.Random, weights: Mapping[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _some(rng: random.Random, options: Sequence[str], most: int) -> str:
    """Between one and `most` distinct options, space-separated as a select_multiple stores them."""
    return " ".join(rng.sample(list(options), rng.randint(1, most)))


def _stamp(day: date, rng: random.Random, hour: int = 9) -> tuple[str, str]:
    start = datetime(day.year, day.month, day.day, hour, rng.randint(0, 59), tzinfo=UTC)
    end = start + timedelta(minutes=rng.randint(6, 25))
    return start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds")


def _meta(rng: random.Random, day: date, hour: int = 9) -> Answers:
    start, end = _stamp(day, rng, hour)
    return {"start": start, "end": end, "today": day.isoformat(), "deviceid": DEVICE_ID}


@dataclass
class _Person:
    code: str
    event: str
    day: date
    sex: str
    age: int
    institution: str
    region: str
    ability: float  # chance of a right answer before the training
    gain: float  # how much the training adds to it


def _people(rng: random.Random) -> list[_Person]:
    codes: set[str] = set()
    people = []
    for event, day, size in EVENTS:
        for _ in range(size):
            code = ""
            while not code or code in codes:
                letters = "".join(rng.choices("ABCDEFGHJKLMNPRSTUVWYZ", k=2))
                code = f"{letters}{rng.randint(100, 9999):04d}"
            codes.add(code)
            institution = _pick(rng, INSTITUTIONS)
            if event == "hr_law_enforcement" and rng.random() < 0.5:
                institution = "law_enforcement"
            people.append(
                _Person(
                    code=code,
                    event=event,
                    day=day,
                    sex=_pick(rng, SEX),
                    age=max(22, min(67, round(rng.gauss(39, 10)))),
                    institution=institution,
                    region=_pick(rng, REGIONS),
                    ability=min(0.8, max(0.15, rng.gauss(0.42, 0.14))),
                    gain=max(-0.05, rng.gauss(0.22, 0.12)),
                )
            )
    return people


def _registration(rng: random.Random, person: _Person) -> _Instance:
    answers = _meta(rng, person.day, 8)
    answers.update(event=person.event, consent="yes", participant_code=person.code)
    answers.update(
        full_name=f"Participant {person.code}",
        phone=f"+41 22 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        if rng.random() < 0.8
        else "",
        email=f"{person.code.lower()}@example.org" if rng.random() < 0.7 else "",
        sex=person.sex,
        # Some registrations were typed in from paper sheets where the age was left blank.
        age=str(person.age) if rng.random() > 0.03 else "",
        institution=person.institution,
        region=person.region,
    )
    levels = {f"wg_{d}": _pick(rng, WG_LEVELS) for d in WG_DOMAINS}
    answers.update(levels)
    severe = any(v in ("a_lot_of_difficulty", "cannot_do") for v in levels.values())
    answers["disability"] = "yes" if severe else "no"
    return _Instance("training_registration", answers)


def _refused(rng: random.Random, day: date) -> _Instance:
    """Someone who did not consent: the form ends after the consent question."""
    answers = _meta(rng, day, 8)
    answers.update(event=EVENTS[rng.randrange(len(EVENTS))][0], consent="no")
    return _Instance("training_registration", answers)


def _test(rng: random.Random, person: _Person, chance: float) -> Answers:
    answers: Answers = {}
    score = 0
    for question, right in KEY.items():
        if rng.random() < chance:
            answer = right
        elif rng.random() < 0.35:
            answer = "dont_know"
        else:
            answer = rng.choice([o for o in OPTIONS if o != right])
        answers[question] = answer
        answers[f"{question}_score"] = "1" if answer == right else "0"
        score += answer == right
    answers["score"] = str(score)
    answers.update(
        event=person.event,
        participant_code=person.code,
        sex=person.sex,
        age=str(person.age),
        institution=person.institution,
    )
    return answers


def _pretest(rng: random.Random, person: _Person) -> _Instance:
    answers = _meta(rng, person.day, 9) | _test(rng, person, person.ability)
    return _Instance("training_pretest", answers)


def _posttest(rng: random.Random, person: _Person) -> _Instance:
    last_day = person.day + timedelta(days=2)
    chance = min(0.97, person.ability + person.gain)
    answers = _meta(rng, last_day, 16) | _test(rng, person, chance)
    satisfaction = _pick(rng, {"5": 38, "4": 40, "3": 15, "2": 5, "1": 2})
    answers["satisfaction"] = satisfaction
    useful = {"very_useful": 45, "useful": 38, "somewhat_useful": 13, "not_useful": 4}
    answers["usefulness"] = _pick(rng, useful)
    uses = ("revise_procedures", "train_colleagues", "treaty_report", "engage_cso")
    answers["intended_use"] = "none" if rng.random() < 0.08 else _some(rng, uses, 3)
    if rng.random() < 0.3:
        answers["comments"] = rng.choice(
            (
                "More practical exercises, please.",
                "The session on the Paris Principles was very useful.",
                "Three days is too short for this content.",
                "Please share the slides in French.",
                "More case studies from our region would help.",
            )
        )
    return _Instance("training_posttest", answers)


def _followup(rng: random.Random, person: _Person) -> _Instance:
    answers = _meta(rng, person.day + timedelta(days=rng.randint(88, 100)), 11)
    used = rng.random() < 0.45 + person.gain
    answers.update(
        event=person.event,
        participant_code=person.code,
        sex=person.sex,
        institution=person.institution,
        used_learning="yes" if used else "no",
    )
    if used:
        uses = ("revised_procedures", "trained_colleagues", "treaty_report", "engaged_cso")
        answers["uses"] = _some(rng, (*uses, "casework"), 3)
        if rng.random() < 0.6:
            answers["example"] = rng.choice(
                (
                    "Used the HRBA checklist in our annual plan.",
                    "Drafted part of the State report to the Committee.",
                    "Gave a session to my unit on non-discrimination.",
                    "Reviewed our complaints procedure with the NHRI.",
                )
            )
    barriers = ("no_opportunity", "no_support", "no_resources", "transferred", "not_relevant")
    answers["barriers"] = "none" if rng.random() < 0.35 else _some(rng, barriers, 2)
    answers["shared_with_colleagues"] = str(
        min(60, int(rng.expovariate(1 / 6))) if used else rng.randint(0, 2)
    )
    return _Instance("training_followup", answers)


def _training(rng: random.Random) -> list[_Instance]:
    people = _people(rng)
    instances = [_registration(rng, p) for p in people]
    instances += [_refused(rng, EVENTS[i][1]) for i in range(2)]
    instances += [_pretest(rng, p) for p in people if rng.random() < 0.9]
    instances += [_posttest(rng, p) for p in people if rng.random() < 0.87]
    instances += [_followup(rng, p) for p in people if rng.random() < 0.5]
    return instances


CONSULTATIONS = {"nhrap": 7, "transitional_justice": 5, "nhri_law": 4, "upr_plan": 4}
THEMES = (
    "non_discrimination",
    "access_to_justice",
    "accountability",
    "institutions",
    "participation",
    "esc_rights",
    "women",
    "disability",
)
RAISED_BY = ("government", "parliament", "nhri", "cso", "victims", "women_org", "dpo")
VENUES = {
    "capital": ("Ministry of Justice, conference room", -1.2864, 36.8172),
    "north": ("Regional council hall", 0.5143, 35.2698),
    "south": ("University auditorium", -4.0435, 39.6682),
    "east": ("Community centre", -0.0917, 34.7680),
    "west": ("Town hall", 0.2827, 34.7519),
}


def _consultation(rng: random.Random, process: str, day: date) -> _Instance:
    region = _pick(rng, REGIONS)
    venue, lat, lon = VENUES[region]
    women, men = rng.randint(6, 38), rng.randint(6, 34)
    answers = _meta(rng, day, 15)
    answers.update(
        consultation=process,
        session_date=day.isoformat(),
        region=region,
        venue=venue,
        location=f"{lat + rng.uniform(-0.01, 0.01):.6f} {lon + rng.uniform(-0.01, 0.01):.6f} 0 8"
        if rng.random() < 0.8
        else "",
        women=str(women),
        men=str(men),
        persons_with_disabilities=str(rng.randint(0, max(1, (women + men) // 10))),
        youth=str(rng.randint(0, (women + men) // 4)),
        civil_society_orgs=str(rng.randint(2, 15)),
        government_officials=str(rng.randint(1, min(12, women + men))),
        total=str(women + men),
    )
    recommendations = [
        {
            "theme": rng.choice(THEMES),
            "recommendation_text": rng.choice(
                (
                    "Establish an independent complaints mechanism.",
                    "Consult persons with disabilities on every draft law.",
                    "Publish the action plan's budget each year.",
                    "Guarantee legal aid in rural areas.",
                    "Train police on the use of force.",
                )
            ),
            "raised_by": rng.choice(RAISED_BY),
            "priority": _pick(rng, {"high": 45, "medium": 40, "low": 15}),
        }
        for _ in range(rng.randint(1, 4))
    ]
    return _Instance("consultation_record", answers, {"/recommendation": recommendations})


def _consultations(rng: random.Random) -> list[_Instance]:
    instances = []
    first = date(2026, 5, 4)
    for process, sessions in CONSULTATIONS.items():
        for _ in range(sessions):
            instances.append(_consultation(rng, process, first + timedelta(rng.randint(0, 170))))
    return instances


def _feedback(rng: random.Random) -> _Instance:
    day = date(2026, 9, 1) + timedelta(rng.randint(0, 80))
    answers = _meta(rng, day, 10)
    if rng.random() < 0.03:
        answers["consent"] = "no"
        return _Instance("beneficiary_feedback", answers)
    group = _pick(
        rng,
        {
            "victims_association": 30,
            "persons_with_disabilities": 18,
            "minority": 22,
            "hrd": 15,
            "other": 15,
        },
    )
    disabled = "yes" if group == "persons_with_disabilities" or rng.random() < 0.06 else "no"
    if rng.random() < 0.04:
        disabled = "prefer_not"
    heard_weights = {"5": 25, "4": 35, "3": 22, "2": 12, "1": 6}
    if group == "minority":
        heard_weights = {"5": 15, "4": 28, "3": 27, "2": 20, "1": 10}
    barriers = ("distance", "cost", "language", "physical", "information", "reprisals")
    answers.update(
        consent="yes",
        project=_pick(
            rng,
            {
                "anti_discrimination": 35,
                "reparations": 25,
                "hrd_protection": 20,
                "indigenous_participation": 20,
            },
        ),
        sex=_pick(rng, {"female": 58, "male": 40, "other": 2}),
        age=str(max(18, min(85, round(rng.gauss(41, 14))))),
        group=group,
        disability=disabled,
        region=_pick(rng, REGIONS),
        participated_in_design=_pick(rng, {"yes": 25, "partly": 35, "no": 40}),
        felt_heard=_pick(rng, heard_weights),
        access_barriers="none" if rng.random() < 0.4 else _some(rng, barriers, 3),
        contact_ok="yes" if rng.random() < 0.4 else "no",
    )
    if answers["contact_ok"] == "yes":
        answers["phone"] = f"+254 7{rng.randint(10, 99)} {rng.randint(100000, 999999)}"
    if rng.random() < 0.25:
        answers["comment"] = rng.choice(
            (
                "Meetings should be held closer to our villages.",
                "We were listened to, but nothing changed yet.",
                "Interpretation into our language was very helpful.",
                "The venue was not accessible for wheelchairs.",
            )
        )
    return _Instance("beneficiary_feedback", answers)


GENERATORS: tuple[Callable[[random.Random], list[_Instance]], ...] = (
    _training,
    _consultations,
    lambda rng: [_feedback(rng) for _ in range(150)],
)


def _generate(rng: random.Random) -> list[_Instance]:
    return [instance for generate in GENERATORS for instance in generate(rng)]
