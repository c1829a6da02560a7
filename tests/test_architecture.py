"""The import rule of the architecture note: web -> domain -> storage, never backwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "collect"
PURE = {"xform.py", "expressions.py", "indicators.py", "report.py"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("domain/*.py")), ids=lambda p: p.name)
def test_domain_does_not_import_web_or_requests(path: Path) -> None:
    found = imports(path)
    assert not any(name.startswith("collect.web") for name in found)
    assert "flask.request" not in found
    assert "flask.g" not in found
    if path.name in PURE:
        assert not any(
            name.startswith(("flask", "sqlalchemy", "collect.storage")) for name in found
        )


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("storage/*.py")), ids=lambda p: p.name)
def test_storage_does_not_import_domain_or_web(path: Path) -> None:
    found = imports(path)
    assert not any(name.startswith(("collect.domain", "collect.web")) for name in found)
