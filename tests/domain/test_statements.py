"""The hand-written SQL of the receiving hot path, checked against the models it writes.

`statements.CREATE_AT_ONCE` names tables and columns in text, out of SQLAlchemy's sight: a
column renamed or added in storage/models.py must fail here, before it fails on a phone.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Column

from collect.domain.submissions import statements
from collect.storage.db import Base

INSERT = re.compile(r"INSERT INTO (\w+) \(([^)]*)\)", re.S)


def inserts() -> list[tuple[str, list[str]]]:
    found = [
        (table, [c.strip() for c in columns.split(",")])
        for table, columns in INSERT.findall(statements.CREATE_AT_ONCE.text)
    ]
    assert [t for t, _ in found] == [
        "blobs",
        "submissions",
        "submission_defs",
        "submission_attachments",
    ]
    return found


@pytest.mark.parametrize(
    ("table", "columns"), inserts(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_column_written_exists(table: str, columns: list[str]) -> None:
    model = Base.metadata.tables[table]
    assert sorted(set(columns) - set(model.columns.keys())) == []


@pytest.mark.parametrize(
    ("table", "columns"), inserts(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_required_column_is_written(table: str, columns: list[str]) -> None:
    """NOT NULL columns without a default of their own must be given by the statement."""
    model = Base.metadata.tables[table]

    def required(column: Column[object]) -> bool:
        return (
            not column.nullable
            and column.default is None
            and column.server_default is None
            and not (column.primary_key and column.autoincrement in (True, "auto"))
        )

    missing = [c.name for c in model.columns if required(c) and c.name not in columns]
    assert missing == []


def test_the_bound_values_are_the_ones_receive_sends() -> None:
    """Every :name in the statement is a bind parameter SQLAlchemy knows of."""
    named = set(re.findall(r"(?<!:):(\w+)", statements.CREATE_AT_ONCE.text))
    assert named == set(statements.CREATE_AT_ONCE.compile().params)
