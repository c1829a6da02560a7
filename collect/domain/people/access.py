"""Roles and what they allow: site admins, project managers and viewers, and app users (devices)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from collect.errors import Forbidden, NotFound
from collect.storage.db import db
from collect.storage.models import Actor, AppUser, FormAssignment, Project, ProjectAssignment

MANAGER_VERBS = frozenset(
    {
        "project.read",
        "project.update",
        "assignment.manage",
        "app_user.manage",
        "form.read",
        "form.create",
        "form.update",
        "submission.create",
        "submission.read",
        "submission.update",
        "submission.sensitive",
        "evaluation.read",
    }
)
VIEWER_VERBS = frozenset({"project.read", "form.read", "submission.read", "evaluation.read"})
APP_USER_VERBS = frozenset({"form.list", "submission.create"})


@dataclass(frozen=True)
class Role:
    id: int
    name: str
    system: str
    verbs: frozenset[str]


# Central's role ids, so that scripts written against Central's API assign the same roles.
ROLES = (
    Role(1, "Administrator", "admin", MANAGER_VERBS | {"user.create", "project.create"}),
    Role(2, "App User", "app-user", APP_USER_VERBS),
    Role(3, "Project Manager", "manager", MANAGER_VERBS),
    Role(4, "Project Viewer", "viewer", VIEWER_VERBS),
)
ROLE_BY_SYSTEM = {r.system: r for r in ROLES}
ROLE_BY_ID = {r.id: r for r in ROLES}
PROJECT_ROLES = ("manager", "viewer")


def role(ref: str) -> Role:
    """Find a role by its system name (`manager`) or its numeric id (`3`)."""
    found = ROLE_BY_ID.get(int(ref)) if ref.isdigit() else ROLE_BY_SYSTEM.get(ref)
    if found is None:
        raise NotFound(f"There is no role '{ref}'. Roles are: manager, viewer, app-user.")
    return found


def is_admin(actor: Actor) -> bool:
    return actor.user is not None and actor.user.is_admin


def project_verbs(actor: Actor, project_id: int) -> frozenset[str]:
    """Everything `actor` may do in a project (empty when it has no role there)."""
    if actor.deleted_at is not None:
        return frozenset()
    if is_admin(actor):
        return ROLE_BY_SYSTEM["admin"].verbs
    if actor.type == "field_key":
        app_user = actor.app_user
        return APP_USER_VERBS if app_user and app_user.project_id == project_id else frozenset()
    role_ids = db.session.scalars(
        select(ProjectAssignment.role_id).where(
            ProjectAssignment.project_id == project_id, ProjectAssignment.actor_id == actor.id
        )
    ).all()
    verbs: frozenset[str] = frozenset()
    for role_id in role_ids:
        verbs |= ROLE_BY_ID[role_id].verbs
    return verbs


def require(actor: Actor, verb: str, project_id: int) -> Project:
    """Return the project if `actor` may do `verb` in it; 404 if it may not even see it."""
    project = db.session.get(Project, project_id)
    verbs = project_verbs(actor, project_id) if project and project.deleted_at is None else None
    if not verbs or project is None:
        raise NotFound("Could not find the project you were looking for.")
    if verb not in verbs:
        raise Forbidden("You are not allowed to do this in this project.")
    return project


def require_admin(actor: Actor) -> None:
    if not is_admin(actor):
        raise Forbidden("Only site administrators can do this.")


def require_user(actor: Actor) -> None:
    """App users (devices) may use the OpenRosa endpoints only."""
    if actor.type != "user":
        raise Forbidden(
            "App user tokens work only for ODK Collect's endpoints; sign in as a web user."
        )


def assigned_form_ids(app_user: AppUser) -> set[int]:
    return set(
        db.session.scalars(
            select(FormAssignment.form_id).where(FormAssignment.actor_id == app_user.actor_id)
        )
    )
