"""The feed's pure parts on literal values: answers as JSON, names as OData identifiers."""

from __future__ import annotations

from typing import Any

import pytest

from collect.domain import odata
from collect.domain.forms import disclosure
from collect.domain.forms.xform import Field

VALUES: tuple[tuple[str, Any, bool, Any], ...] = (
    ("int", "34", False, 34),
    ("int", " -7 ", False, -7),
    ("int", "3.9", False, 3),
    ("int", "many", False, None),
    ("int", "", False, None),
    ("decimal", "-0.25", False, -0.25),
    ("decimal", "nan", False, None),
    ("string", "  spaced ", False, "  spaced "),
    ("string", None, False, None),
    ("boolean", "true", False, True),
    ("boolean", "0", False, False),
    ("dateTime", "2026-03-02T09:00:00.000-05", False, "2026-03-02T09:00:00.000-05:00"),
    ("date", "2026-03-02", False, "2026-03-02"),
    ("geopoint", "12.5 -1.25", False, {"type": "Point", "coordinates": [-1.25, 12.5]}),
    ("geopoint", "12.5", False, None),
    ("geopoint", "12.5 -1.25 300 4", True, "POINT (-1.25 12.5 300)"),
    (
        "geotrace",
        "1 2 3 4;5 6 7 8;",
        False,
        {
            "type": "LineString",
            "coordinates": [[2, 1, 3], [6, 5, 7]],
            "properties": {"accuracies": [4, 8]},
        },
    ),
    (
        "geoshape",
        "1 2;3 4;1 2",
        False,
        {"type": "Polygon", "coordinates": [[[2, 1], [4, 3], [2, 1]]]},
    ),
    ("geoshape", "1 2;3 4;1 2", True, "POLYGON ((2 1,4 3,2 1))"),
    ("geotrace", "1.5 2.25", True, "LINESTRING (2.25 1.5)"),
)


@pytest.mark.parametrize(("kind", "raw", "wkt", "expected"), VALUES)
def test_answers_become_json_as_central_writes_them(
    kind: str, raw: Any, wkt: bool, expected: Any
) -> None:
    assert odata.value(kind, raw, wkt) == expected


def test_names_become_odata_identifiers_and_sensitive_questions_are_left_out() -> None:
    assert odata.identifier("first-name.x") == "first_name_x"
    assert odata.identifier("1st") == "_1st"
    fields = [
        Field("/g", "g", "structure"),
        Field("/g/a-b", "a-b", "int"),
        Field("/g/r", "r", "repeat", repeat="/g/r"),
        Field("/g/r/secret", "secret", "string", repeat="/g/r", sensitive=True),
        Field("/g/r/inner", "inner", "repeat", repeat="/g/r/inner"),
        Field("/g/r/inner/x", "x", "decimal", repeat="/g/r/inner"),
    ]
    rule = disclosure.combine([disclosure.version(fields, None)], sees_sensitive=False)
    built = odata.schema.build("my-form", fields, rule)
    assert list(built.tables) == ["Submissions", "Submissions.g.r", "Submissions.g.r.inner"]
    inner = built.tables["Submissions.g.r.inner"]
    assert inner.parent_key == "__Submissions-g-r-id"
    assert built.tables["Submissions.g.r"].parent_key == "__Submissions-id"
    assert "g/r/secret" not in built.by_odata_path
    assert built.namespace == "org.opendatakit.user.my_form"
    document = odata.metadata_document(built).decode()
    assert 'Name="a_b" Type="Edm.Int64"' in document
    assert "secret" not in document
