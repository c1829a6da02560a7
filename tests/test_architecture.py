"""The import rule of ARCHITECTURE.md: web -> domain -> storage, never backwards; pure modules
import neither Flask nor the database; and every room listed there exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "collect"
# Modules that take and return plain values: tested on literal XML and rows, like Central's data/.
PURE = {
    "domain/forms/xform.py",
    "domain/forms/xlsform.py",
    "domain/forms/disclosure.py",
    "domain/evaluation/expressions.py",
    "domain/evaluation/indicators.py",
    "domain/evaluation/compute.py",
    "domain/evaluation/render.py",
    "domain/exports/tables.py",
    "domain/exports/xlsx_parts.py",
    "domain/odata/schema.py",
    "domain/odata/query.py",
    "domain/odata/rows.py",
    "domain/encryption/envelope.py",
    "domain/encryption/keys.py",
}
AREAS = ("people", "forms", "submissions", "exports", "odata", "evaluation")


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


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def name(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


@pytest.mark.parametrize("path", modules("domain"), ids=name)
def test_domain_does_not_import_web_demo_or_requests(path: Path) -> None:
    found = imports(path)
    assert not any(n.startswith(("collect.web", "collect.demo", "collect.cli")) for n in found)
    assert "flask.request" not in found
    assert "flask.g" not in found
    assert "flask.session" not in found


@pytest.mark.parametrize("path", [PACKAGE / p for p in sorted(PURE)], ids=name)
def test_pure_modules_use_neither_flask_nor_the_database(path: Path) -> None:
    found = imports(path)
    assert not any(n.startswith(("flask", "sqlalchemy", "collect.storage")) for n in found)


@pytest.mark.parametrize("path", modules("storage"), ids=name)
def test_storage_does_not_import_domain_or_web(path: Path) -> None:
    found = imports(path)
    assert not any(n.startswith(("collect.domain", "collect.web", "collect.demo")) for n in found)


@pytest.mark.parametrize("path", modules("demo"), ids=name)
def test_demo_seeds_through_the_domain_not_the_web(path: Path) -> None:
    assert not any(n.startswith("collect.web") for n in imports(path))


def test_every_product_area_is_a_package_with_a_docstring() -> None:
    for area in AREAS:
        init = PACKAGE / "domain" / area / "__init__.py"
        assert init.exists(), area
        assert ast.get_docstring(ast.parse(init.read_text())), area


def test_architecture_md_names_every_package() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    packages = [p.parent for p in PACKAGE.rglob("__init__.py")]
    for package in packages:
        room = f"{package.relative_to(ROOT)}/"
        assert room in text, f"ARCHITECTURE.md does not describe {room}"


def test_every_error_class_is_in_the_catalogue() -> None:
    """Errors a client can act on are declared once, in collect/errors.py, with their codes."""
    catalogue = PACKAGE / "errors.py"
    declared = {
        node.name
        for node in ast.walk(ast.parse(catalogue.read_text()))
        if isinstance(node, ast.ClassDef)
    }
    for path in PACKAGE.rglob("*.py"):
        if path == catalogue:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                assert not bases & declared, (
                    f"{name(path)} declares {node.name}: move it to errors.py"
                )
