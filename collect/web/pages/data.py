"""What each web page shows, gathered from the domain's read functions (no SQL here).

A page often shows several things at once (a project's forms, members and app users), so each
page gets one function here that asks the domain for all of it; the views stay one call long.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime

from collect.domain import forms
from collect.domain.people import access, app_users, projects, throttle, users
from collect.errors import BadRequest, NotFound, Unauthorized
from collect.storage.models import Actor, AppUser, Form, FormDef, Project, Session, User


@dataclass(frozen=True)
class FormRow:
    form: Form
    name: str
    version: str | None
    draft_version: str | None
    submissions: int
    last_submission: datetime | None


@dataclass(frozen=True)
class Member:
    actor_id: int
    email: str
    display_name: str
    role: str


@dataclass(frozen=True)
class ProjectPage:
    project: Project
    verbs: frozenset[str]
    forms: list[FormRow]
    members: list[Member]
    app_users: list[AppUser]

    def can(self, verb: str) -> bool:
        return verb in self.verbs


@dataclass(frozen=True)
class AppUserPage:
    project: Project
    app_user: AppUser
    server_url: str
    qr_png: str  # base64, for a data: URL
    forms: list[tuple[Form, bool]]  # each form of the project and whether it is assigned


@dataclass(frozen=True)
class FormPage:
    project: Project
    form: Form
    verbs: frozenset[str]
    row: FormRow
    versions: list[FormDef]
    languages: list[str]

    def can(self, verb: str) -> bool:
        return verb in self.verbs


@dataclass(frozen=True)
class DraftPage:
    project: Project
    form: Form
    draft: FormDef | None
    published: FormDef | None
    missing: list[str] = field(default_factory=list)


def projects_page(actor: Actor) -> tuple[list[Project], bool]:
    """The projects the actor sees, and whether it may create new ones."""
    return projects.visible(actor), access.is_admin(actor)


def form_row(form: Form) -> FormRow:
    count, last = forms.submission_stats(form)
    shown = form.current_def or form.draft_def
    draft = form.draft_def
    return FormRow(
        form=form,
        name=(shown.name if shown and shown.name else form.xml_form_id),
        version=form.current_def.version if form.current_def else None,
        draft_version=draft.version if draft and draft.published_at is None else None,
        submissions=count,
        last_submission=last,
    )


def project_page(actor: Actor, project_id: int) -> ProjectPage:
    """A project's forms with their counts, its members and (for managers) its app users."""
    project = projects.get(actor, project_id)
    verbs = access.project_verbs(actor, project_id)
    rows = [form_row(f) for f in forms.listed(actor, project_id)]
    by_id: dict[int, User] = {u.actor_id: u for u in users.all_users()}
    members = []
    for assignment in projects.assignments(actor, project_id):
        user = by_id.get(assignment.actor_id)
        if user is None:
            continue
        members.append(
            Member(
                actor_id=user.actor_id,
                email=user.email,
                display_name=user.actor.display_name,
                role=access.ROLE_BY_ID[assignment.role_id].system,
            )
        )
    devices = app_users.listed(actor, project_id) if "app_user.manage" in verbs else []
    return ProjectPage(project, verbs, rows, members, devices)


def app_user_page(actor: Actor, project_id: int, app_user_id: int, base: str) -> AppUserPage:
    """An app user's ODK Collect settings QR code and the forms it may fill in."""
    app_user = app_users.get(actor, project_id, app_user_id)
    project = projects.get(actor, project_id)
    settings = app_users.settings(base, app_user, project.name)
    png = app_users.qr_image(app_users.qr_payload(settings), "png", scale=8)
    assigned = access.assigned_form_ids(app_user)
    listed = [(f, f.id in assigned) for f in forms.listed(actor, project_id)]
    return AppUserPage(
        project=project,
        app_user=app_user,
        server_url=app_users.server_url(base, app_user),
        qr_png=base64.b64encode(png).decode("ascii"),
        forms=listed,
    )


def form_page(actor: Actor, project_id: int, xml_form_id: str) -> FormPage:
    """A form's state, counts, published versions and the languages its labels come in."""
    project = projects.get(actor, project_id)
    form = forms.get(actor, project_id, xml_form_id)
    shown = form.current_def or form.draft_def
    return FormPage(
        project=project,
        form=form,
        verbs=access.project_verbs(actor, project_id),
        row=form_row(form),
        versions=forms.versions(actor, project_id, xml_form_id),
        languages=list(shown.languages) if shown else [],
    )


def draft_page(actor: Actor, project_id: int, xml_form_id: str) -> DraftPage:
    """A form's draft (if any) with the media files it still needs (managers only)."""
    project = access.require(actor, "form.update", project_id)
    form = forms.get(actor, project_id, xml_form_id)
    try:
        draft: FormDef | None = forms.definition(actor, project_id, xml_form_id, draft=True)
    except NotFound:
        draft = None
    missing = [a.name for a in draft.attachments if a.blob_id is None] if draft else []
    return DraftPage(project, form, draft, form.current_def, missing)


def users_page(actor: Actor) -> list[User]:
    """Every web user (site admins only)."""
    access.require_admin(actor)
    return users.all_users()


def upload_page(actor: Actor, project_id: int) -> Project:
    """The project a new form goes into, if the actor may create forms there (managers)."""
    return access.require(actor, "form.create", project_id)


# Actions that need more than one domain call ----------------------------------------------------


def sign_in(
    email: str, password: str, *, hours: int, client: throttle.Client
) -> tuple[Session, str]:
    """Open a session, within the limits on failed attempts (domain/people/throttle.py)."""
    if not email or not password:
        raise Unauthorized("Enter your email address and your password.")
    try:
        return users.login(email, password, hours=hours, client=client)
    except Unauthorized as e:
        if e.message != users.FAILED:
            raise
        raise Unauthorized(
            "The email or password is not right. Check both and try again; after "
            f"{throttle.PER_CLIENT} failed attempts, signing in from here is paused for "
            f"{throttle.WINDOW.seconds // 60} minutes."
        ) from None


def sign_out(token: str | None) -> None:
    """End the browser's session; an already ended one is fine."""
    if token is not None:
        users.sign_out(token)


def create_user(
    actor: Actor, email: str, password: str, *, display_name: str | None, is_admin: bool
) -> User:
    """Create a web user (site admins only)."""
    access.require_admin(actor)
    return users.create(email, password, is_admin=is_admin, display_name=display_name)


def add_member(actor: Actor, project_id: int, email: str, role: str) -> None:
    """Give the web user with this email a role in the project."""
    access.require(actor, "assignment.manage", project_id)
    if role not in access.PROJECT_ROLES:
        raise BadRequest("Choose the role: manager or viewer.")
    if not email.strip():
        raise BadRequest("Enter the email address of the user to add.")
    user = users.by_email(email)
    projects.assign(actor, project_id, role, user.actor_id)
