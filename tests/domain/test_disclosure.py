"""The disclosure rule (domain/forms/disclosure.py) on real XLSForms and literal expressions."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from collect.domain.forms import disclosure, xform, xlsform
from collect.domain.forms import fields as form_fields
from tests.workbooks import xlsx

SURVEY = [
    ("type", "name", "label", "sensitive"),
    ("text", "observer_code", "Observer code", "yes"),
    ("select_one region", "region", "Region", ""),
    ("begin_group", "victim", "Victim", "yes"),
    ("text", "victim_name", "Name", ""),
    ("end_group", "", "", ""),
    ("begin_repeat", "incident", "Incident", ""),
    ("text", "what", "What happened", ""),
    ("text", "witness", "Witness", "yes"),
    ("image", "witness_photo", "Witness photo", "yes"),
    ("image", "scene", "Scene", ""),
    ("end_repeat", "", "", ""),
    ("begin_repeat", "contacts", "Contacts", "yes"),
    ("text", "phone", "Phone", ""),
    ("end_repeat", "", "", ""),
    ("image", "site_photo", "Site photo", ""),
    ("image", "id_photo", "ID card", "yes"),
]
CHOICES = [("list_name", "name", "label"), ("region", "kara", "Kara"), ("region", "lome", "Lomé")]


def version(
    survey: Sequence[Sequence[object]] = SURVEY, instance_name: str | None = None
) -> disclosure.Version:
    """A version of a form, converted by pyxform and read as the server stores it."""
    settings = [("form_id", "version", "instance_name"), ("report", "1", instance_name or "")]
    converted = xlsform.convert(xlsx(survey, choices=CHOICES, settings=settings), xlsform.XLSX)
    parsed = xform.read_xform(converted.xml)
    return disclosure.version(form_fields.marked(parsed.fields, converted.sensitive), parsed)


def rule(*versions: disclosure.Version, sees: bool = False) -> disclosure.Disclosure:
    return disclosure.combine(versions or [version()], sees_sensitive=sees)


@pytest.mark.parametrize(
    ("path", "hidden"),
    [
        ("/observer_code", True),
        ("/region", False),
        ("/victim", True),
        ("/victim/victim_name", True),  # a child of a sensitive group
        ("/incident", False),
        ("/incident/what", False),
        ("/incident/witness", True),
        ("/contacts/phone", True),  # a child of a sensitive repeat
        ("/victims", False),  # a name that starts like a sensitive group's is not in it
        ("/meta/instanceID", False),
    ],
)
def test_a_path_is_hidden_when_it_or_a_group_holding_it_is_sensitive(
    path: str, hidden: bool
) -> None:
    assert rule().hides(path) is hidden
    assert rule(sees=True).hides(path) is False


def test_sensitive_in_any_version_is_sensitive_in_all() -> None:
    unmarked = [(t, n, label, "") for t, n, label, _ in SURVEY]
    later = version(unmarked)
    assert not rule(later).withholds
    both = rule(version(), later)
    assert both.hides("/observer_code") and both.hides("/contacts/phone")
    assert both.without_sensitive() == both
    assert not rule(version(), later, sees=True).withholds
    assert rule(version(), later, sees=True).without_sensitive().hides("/victim/victim_name")


def test_values_lose_hidden_answers_inside_groups_and_repeats() -> None:
    values = {
        "/observer_code": "OBS-1",
        "/region": "kara",
        "/victim/victim_name": "Ama",
        "/incident": [
            {"/incident/what": "a fire", "/incident/witness": "Kofi"},
            {"/incident/what": "a theft", "/incident/witness": "Esi"},
        ],
        "/contacts": [{"/contacts/phone": "+228"}],
        "/unknown": "kept: no version hides it",
        "/meta/instanceID": "uuid:1",
    }
    assert rule().values(values) == {
        "/region": "kara",
        "/incident": [{"/incident/what": "a fire"}, {"/incident/what": "a theft"}],
        "/unknown": "kept: no version hides it",
        "/meta/instanceID": "uuid:1",
    }
    assert rule(sees=True).values(values) == values


def test_a_file_is_hidden_only_when_only_hidden_questions_name_it() -> None:
    values = {
        "/site_photo": "site.jpg",
        "/id_photo": "id.jpg",
        "/incident": [
            {"/incident/witness_photo": "w.jpg", "/incident/scene": "scene.jpg"},
            {"/incident/witness_photo": "site.jpg"},  # also a shown question's file
        ],
    }
    assert rule().hidden_files(values) == {"id.jpg", "w.jpg"}
    assert rule(sees=True).hidden_files(values) == frozenset()
    no_files = [row for row in SURVEY if "photo" not in str(row[1])]
    assert not rule(version(no_files)).withholds_files


@pytest.mark.parametrize(
    ("instance_name", "shown"),
    [
        ("concat(${observer_code}, ' ', ${region})", False),  # the usual practice
        ("concat(${region}, '-', ${observer_code})", False),
        ("${region}", True),
        ("concat('Report ', ${region}, ' ', today())", True),
        # In quotes, pyxform writes the path as text: the name holds the words, not the answer.
        ("concat('${observer_code}', ${region})", True),
        ("string-length(${victim_name})", False),  # inside a sensitive group
    ],
)
def test_instance_name_is_withheld_when_made_from_a_hidden_answer(
    instance_name: str, shown: bool
) -> None:
    viewer = rule(version(instance_name=instance_name))
    assert viewer.shows_instance_name is shown
    assert viewer.hides(disclosure.INSTANCE_NAME) is not shown
    assert viewer.instance_name_of("OBS-1 kara") == ("OBS-1 kara" if shown else None)
    manager = rule(version(instance_name=instance_name), sees=True)
    assert manager.instance_name_of("OBS-1 kara") == "OBS-1 kara"


def test_instance_name_follows_the_calculations_it_reads() -> None:
    def with_copy(copied: str) -> list[tuple[object, ...]]:
        header, *rows = SURVEY
        return [
            (*header, "calculation"),
            *((*row, "") for row in rows),
            ("calculate", "code_copy", "", "", f"upper-case(${{{copied}}})"),
            ("calculate", "title", "", "", "concat(${code_copy}, '!')"),
        ]

    assert not rule(version(with_copy("observer_code"), "${title}")).shows_instance_name
    assert rule(version(with_copy("region"), "${title}")).shows_instance_name


def test_instance_name_is_withheld_when_it_cannot_be_read_and_something_is_hidden() -> None:
    unreadable = "concat(${region}, instance('region')/root/item[name = ${region}]/label)"
    assert not rule(version(instance_name=unreadable)).shows_instance_name
    # A version that does not compute it cannot say what a stored one is made of.
    assert not rule(version(), version(instance_name="${region}")).shows_instance_name
    nothing_sensitive = [(t, n, label, "") for t, n, label, _ in SURVEY]
    assert rule(version(nothing_sensitive, instance_name=unreadable)).shows_instance_name
    assert not rule(version(nothing_sensitive)).withholds


def test_questions_by_name_for_the_indicators() -> None:
    viewer = rule()
    assert viewer.hides_question("observer_code")
    assert viewer.hides_question("victim_name")
    assert not viewer.hides_question("region")
    assert not viewer.hides_question("witness")  # inside a repeat: not a question indicators use
    assert not rule(sees=True).hides_question("observer_code")


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        ("concat( /data/observer_code , ' ',  /data/region )", {"/observer_code", "/region"}),
        ("/data/a + /data/g/b * 2 div 3 mod 4", {"/a", "/g/b"}),
        ("if(/data/a != 'x' and /data/b >= 1.5 or -1 < .5, 'yes', \"no\")", {"/a", "/b"}),
        ("jr:choice-name( /data/region , ' /data/region ')", {"/region"}),
        ("format-date(today(), '%Y')", set()),
        ("/data/a | /data/b", {"/a", "/b"}),
        ("../sibling", None),
        (".", None),
        ("/data/a[. = 'x']", None),
        ("/data/g/@attribute", None),
        ("/data/*", None),
        ("//name", None),
        ("instance('regions')/root/item/label", None),
        ("/other/a", None),  # not the primary instance
        ("concat(/data/a, 'unterminated)", None),
    ],
)
def test_references_reads_absolute_paths_and_refuses_the_rest(
    expression: str, found: set[str] | None
) -> None:
    refs = disclosure.references(expression, "data")
    assert refs == (frozenset(found) if found is not None else None)
