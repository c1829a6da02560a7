"""The newcomer's demo: an admin, a project with the sample forms, and a phone's app user."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from collect.demo import data as demo_data
from collect.domain import forms
from collect.domain.forms import xform, xlsform
from collect.domain.people import app_users, projects, users
from collect.errors import Conflict
from collect.storage.db import db
from collect.storage.models import Actor, AppUser, Form, FormAssignment, Project, User

ADMIN_EMAIL = "admin@example.org"
PROJECT_NAME = "Demo"
APP_USER_NAME = "Demo phone"
PROGRAMME_ORDER = (
    "training_registration",
    "training_pretest",
    "training_posttest",
    "training_followup",
    "consultation_record",
    "beneficiary_feedback",
)


@dataclass(frozen=True)
class DemoResult:
    email: str
    password: str | None
    project_id: int
    project_name: str
    forms: list[str]
    server_url: str
    qr_png: bytes
    qr_text: str
    submissions: int = 0  # synthetic submissions sent by this run (only the first one sends)


def run(forms_dir: Path, base_url: str, validate_mode: str = "auto") -> DemoResult:
    """Create (or reuse) the demo admin, project, forms and app user; return what to print."""
    admin = db.session.scalar(select(User).where(User.email == ADMIN_EMAIL))
    password: str | None = None
    if admin is None:
        password = secrets.token_urlsafe(12)
        admin = users.create(ADMIN_EMAIL, password, is_admin=True, display_name="Demo admin")
    actor = admin.actor
    project = db.session.scalar(select(Project).where(Project.name == PROJECT_NAME))
    if project is None:
        project = projects.create(
            actor,
            PROJECT_NAME,
            "Sample forms for trainings, consultations and beneficiary feedback.",
        )
    published = _publish_all(actor, project.id, forms_dir, validate_mode)
    app_user = db.session.scalar(
        select(AppUser).where(AppUser.project_id == project.id, AppUser.token.isnot(None))
    )
    if app_user is None:
        app_user = app_users.create(actor, project.id, APP_USER_NAME)
    for xml_form_id in published:
        form = db.session.scalar(
            select(Form).where(Form.project_id == project.id, Form.xml_form_id == xml_form_id)
        )
        assert form is not None
        assigned = db.session.scalar(
            select(FormAssignment).where(
                FormAssignment.form_id == form.id, FormAssignment.actor_id == app_user.actor_id
            )
        )
        if assigned is None:
            app_users.assign_form(actor, project.id, xml_form_id, "app-user", app_user.actor_id)
    sent = demo_data.seed(app_user)
    payload = app_users.qr_payload(app_users.settings(base_url, app_user, project.name))
    return DemoResult(
        email=ADMIN_EMAIL,
        password=password,
        project_id=project.id,
        project_name=project.name,
        forms=published,
        server_url=app_users.server_url(base_url, app_user),
        qr_png=app_users.qr_image(payload, "png"),
        qr_text=app_users.qr_terminal(payload),
        submissions=sent,
    )


def _publish_all(actor: Actor, project_id: int, forms_dir: Path, mode: str) -> list[str]:
    ids = []
    for path in sorted(forms_dir.glob("*.xlsx"), key=_programme_order):
        upload = forms.Upload(path.read_bytes(), xlsform.XLSX)
        try:
            form = forms.create(actor, project_id, upload, publish=True, validate_mode=mode)
            ids.append(form.xml_form_id)
        except Conflict:
            db.session.rollback()
            ids.append(_republish(actor, project_id, upload, mode))
    return ids


def _programme_order(path: Path) -> tuple[int, str]:
    """A training's forms in the order they are used, then the others: the report follows it."""
    order = (
        PROGRAMME_ORDER.index(path.stem) if path.stem in PROGRAMME_ORDER else len(PROGRAMME_ORDER)
    )
    return order, path.stem


def _republish(actor: Actor, project_id: int, upload: forms.Upload, mode: str) -> str:
    """Publish a changed sample form as a new version; leave an unchanged one as it is."""
    converted = xlsform.convert(upload.body, upload.content_type)
    parsed = xform.read_xform(converted.xml)
    form = forms.get(actor, project_id, parsed.form_id)
    if form.current_def is not None and form.current_def.version == parsed.version:
        return parsed.form_id
    forms.new_draft(actor, project_id, parsed.form_id, upload, validate_mode=mode)
    forms.publish(actor, project_id, parsed.form_id, None)
    return parsed.form_id
