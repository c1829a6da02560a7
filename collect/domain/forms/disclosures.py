"""The disclosure rule (`disclosure`) for an actor and a stored form: every reader starts here.

The facts of a version (its sensitive paths, file questions, what meta/instanceName is made of)
never change once stored and are derivable from its rows and XForm, so each worker keeps them,
keyed by version id and XForm hash like `fields.cached`. Which versions a form has does
change (a new draft, a publish), so that is read each time: one small query.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select

from collect.domain.forms import disclosure, xform
from collect.domain.forms import fields as form_fields
from collect.domain.people import access
from collect.storage.db import db
from collect.storage.models import Actor, Form, FormDef

SEES_SENSITIVE = "submission.sensitive"

_CACHE: dict[tuple[int, str], disclosure.Version] = {}
_CACHE_MAX = 512


def of(actor: Actor, form: Form) -> disclosure.Disclosure:
    """What `actor` may see of the answers to `form`, in any of its versions."""
    verbs = access.project_verbs(actor, form.project_id)
    return for_form(form, sees_sensitive=SEES_SENSITIVE in verbs)


def for_form(form: Form, *, sees_sensitive: bool) -> disclosure.Disclosure:
    """The rule over the form's published versions and its draft."""
    return disclosure.combine(versions(form), sees_sensitive=sees_sensitive)


def versions(form: Form, *, draft: bool = True) -> list[disclosure.Version]:
    """The rule's facts of each published version of the form and (unless `draft` is False,
    as when a new draft replaces it) of its draft."""
    stored: ColumnElement[bool] = FormDef.published_at.isnot(None)
    if draft:
        stored = or_(stored, FormDef.id == form.draft_def_id)
    rows = db.session.execute(
        select(FormDef.id, FormDef.sha256).where(FormDef.form_id == form.id, stored)
    )
    return [_version(def_id, sha256) for def_id, sha256 in rows]


def _version(def_id: int, sha256: str) -> disclosure.Version:
    key = (def_id, sha256)
    found = _CACHE.get(key)
    if found is None:
        xml = db.session.scalar(select(FormDef.xml).where(FormDef.id == def_id))
        assert xml is not None
        found = disclosure.version(form_fields.cached(def_id, sha256), xform.read_xform(xml))
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = found
    return found
