"""A form version's questions: the one mapping between stored `FormField` rows and `xform.Field`.

The field tree is read from the XForm once, when a version is stored, and kept as rows in
document order; exports, OData, the evaluation report and the receiving of submissions all
read it back through `of` (or `cached`, on the hot path), never from the XForm again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable

from sqlalchemy.orm import defer

from collect.domain.forms import xform
from collect.storage.db import db
from collect.storage.models import FormDef, FormField


def of(definition: FormDef) -> tuple[xform.Field, ...]:
    """The stored field tree of a version as domain values."""
    return tuple(
        xform.Field(
            path=f.path,
            name=f.name,
            type=f.type,
            control=f.control,
            repeat=f.repeat,
            calculate=f.calculate,
            list_name=f.list_name,
            labels=dict(f.labels),
            choices=tuple(xform.Choice(c["name"], dict(c["labels"])) for c in f.choices),
            sensitive=f.sensitive,
        )
        for f in definition.fields
    )


def rows(fields: Iterable[xform.Field]) -> list[FormField]:
    """The rows that store a version's field tree, in document order."""
    return [
        FormField(
            order=i,
            path=f.path,
            name=f.name,
            type=f.type,
            control=f.control,
            repeat=f.repeat,
            calculate=f.calculate,
            list_name=f.list_name,
            labels=dict(f.labels),
            choices=[{"name": c.name, "labels": dict(c.labels)} for c in f.choices],
            sensitive=f.sensitive,
        )
        for i, f in enumerate(fields)
    ]


def marked(fields: Iterable[xform.Field], sensitive: Collection[str]) -> tuple[xform.Field, ...]:
    """The fields with `sensitive` set on those whose names the XLSForm marks sensitive."""
    return tuple(dataclasses.replace(f, sensitive=f.name in sensitive) for f in fields)


# A form version's fields never change once published, and they are derivable from stored rows, so
# each worker keeps them instead of loading ~100 rows per POST. The key holds the XForm's SHA-256
# too, so that an id reused by another database in the same process never finds a stale entry.
_CACHE: dict[tuple[int, str], tuple[xform.Field, ...]] = {}
_CACHE_MAX = 512


def cached(def_id: int, def_sha256: str) -> tuple[xform.Field, ...]:
    """`of` the version with this id and XForm hash, kept per worker (see above)."""
    key = (def_id, def_sha256)
    found = _CACHE.get(key)
    if found is None:
        definition = db.session.get(FormDef, def_id, options=[defer(FormDef.xml)])
        assert definition is not None
        found = of(definition)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = found
    return found
