"""Projects and who works in them (managers and viewers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select

from collect.domain.people import access, audits
from collect.errors import BadRequest, Conflict, NotFound
from collect.storage.db import db
from collect.storage.models import Actor, AppUser, Form, Project, ProjectAssignment, Submission


def create(actor: Actor, name: str, description: str | None = None) -> Project:
    """Create a project (site admins only)."""
    access.require_admin(actor)
    if not name.strip():
        raise BadRequest("A project needs a name.")
    project = Project(name=name.strip(), description=description)
    db.session.add(project)
    db.session.flush()
    audits.log(actor, "project.create", f"project:{project.id}", name=project.name)
    db.session.commit()
    return project


def visible(actor: Actor) -> list[Project]:
    """Projects the actor may read, oldest first."""
    stmt = select(Project).where(Project.deleted_at.is_(None)).order_by(Project.id)
    if not access.is_admin(actor):
        stmt = stmt.where(
            Project.id.in_(
                select(ProjectAssignment.project_id).where(ProjectAssignment.actor_id == actor.id)
            )
        )
    return list(db.session.scalars(stmt))


def get(actor: Actor, project_id: int) -> Project:
    return access.require(actor, "project.read", project_id)


def stats(project: Project) -> dict[str, Any]:
    """What Central adds to a project with X-Extended-Metadata: forms, app users, last upload."""
    form_count = db.session.scalar(
        select(func.count(Form.id)).where(Form.project_id == project.id, Form.deleted_at.is_(None))
    )
    app_user_count = db.session.scalar(
        select(func.count(AppUser.actor_id))
        .join(Actor, Actor.id == AppUser.actor_id)
        .where(AppUser.project_id == project.id, Actor.deleted_at.is_(None))
    )
    last = db.session.scalar(
        select(func.max(Submission.created_at))
        .join(Form, Form.id == Submission.form_id)
        .where(Form.project_id == project.id, Submission.deleted_at.is_(None))
    )
    return {"forms": form_count or 0, "appUsers": app_user_count or 0, "lastSubmission": last}


def update(
    actor: Actor,
    project_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    archived: bool | None = None,
    min_cell: int | None = None,
) -> Project:
    """Change a project's name, description, archived flag or small-cell threshold."""
    project = access.require(actor, "project.update", project_id)
    if name is not None:
        if not name.strip():
            raise BadRequest("A project needs a name.")
        project.name = name.strip()
    if description is not None:
        project.description = description
    if archived is not None:
        project.archived = archived
    if min_cell is not None:
        if min_cell < 0 or min_cell > 1000:
            raise BadRequest("minCell must be between 0 (no suppression) and 1000.")
        project.min_cell = min_cell
    audits.log(actor, "project.update", f"project:{project.id}", minCell=project.min_cell)
    db.session.commit()
    return project


def assignments(actor: Actor, project_id: int) -> list[ProjectAssignment]:
    access.require(actor, "project.read", project_id)
    return list(
        db.session.scalars(
            select(ProjectAssignment)
            .where(ProjectAssignment.project_id == project_id)
            .order_by(ProjectAssignment.id)
        )
    )


def assign(actor: Actor, project_id: int, role_ref: str, actor_id: int) -> ProjectAssignment:
    """Give a web user a role (manager or viewer) in a project."""
    access.require(actor, "assignment.manage", project_id)
    role = access.role(role_ref)
    if role.system not in access.PROJECT_ROLES:
        raise BadRequest(f"The role '{role.system}' cannot be given in a project.")
    target = db.session.get(Actor, actor_id)
    if target is None or target.deleted_at is not None or target.type != "user":
        raise NotFound(f"There is no web user with id {actor_id}.")
    existing = db.session.scalar(
        select(ProjectAssignment).where(
            ProjectAssignment.project_id == project_id,
            ProjectAssignment.actor_id == actor_id,
            ProjectAssignment.role_id == role.id,
        )
    )
    if existing is not None:
        raise Conflict(f"That user is already {role.system} of this project.")
    assignment = ProjectAssignment(project_id=project_id, actor_id=actor_id, role_id=role.id)
    db.session.add(assignment)
    audits.log(actor, "assignment.create", f"project:{project_id}", role=role.system, to=actor_id)
    db.session.commit()
    return assignment


def unassign(actor: Actor, project_id: int, role_ref: str, actor_id: int) -> None:
    access.require(actor, "assignment.manage", project_id)
    role = access.role(role_ref)
    result = db.session.execute(
        delete(ProjectAssignment).where(
            ProjectAssignment.project_id == project_id,
            ProjectAssignment.actor_id == actor_id,
            ProjectAssignment.role_id == role.id,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound("That user does not have that role in this project.")
    audits.log(actor, "assignment.delete", f"project:{project_id}", role=role.system, to=actor_id)
    db.session.commit()
