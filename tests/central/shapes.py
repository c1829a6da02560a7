"""Validate JSON against the shapes in schemas/: our own JSON Schemas of Central's responses."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parent / "schemas"


@functools.cache
def _registry() -> Registry[Any]:
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["$id"] == path.name, f"{path.name}: $id must be the file name"
        resources.append((path.name, Resource.from_contents(document)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return registry


@functools.cache
def validator(name: str) -> Draft202012Validator:
    schema = _registry().contents(f"{name}.json")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def problems(instance: Any, name: str, *, many: bool = False) -> list[str]:
    """Every way `instance` differs from shape `name` (a list of them when `many`)."""
    if many:
        if not isinstance(instance, list):
            return [f"expected a JSON array of {name}, got {type(instance).__name__}"]
        schema = {"type": "array", "items": {"$ref": f"{name}.json"}}
        check = Draft202012Validator(schema, registry=_registry())
    else:
        check = validator(name)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in sorted(check.iter_errors(instance), key=lambda e: list(map(str, e.path)))
    ]


def assert_shape(instance: Any, name: str, *, many: bool = False) -> None:
    found = problems(instance, name, many=many)
    assert not found, f"not a {name}{'[]' if many else ''}:\n  " + "\n  ".join(found)
