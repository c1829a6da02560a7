"""The audit log: who did what to which thing, with the options they chose."""

from __future__ import annotations

from typing import Any

from collect.storage.db import db
from collect.storage.models import Actor, Audit


def log(actor: Actor | None, action: str, acted_on: str | None, **details: Any) -> None:
    """Add an audit row to the current unit of work (the caller commits)."""
    db.session.add(
        Audit(
            actor_id=actor.id if actor else None,
            action=action,
            acted_on=acted_on,
            details=details,
        )
    )
