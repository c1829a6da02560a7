"""Initial schema: actors, projects, forms and versions, submissions, blobs, audits.

initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 01:40:55.614528

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "actors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actors")),
    )
    op.create_table(
        "blobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blobs")),
        sa.UniqueConstraint("sha256", name=op.f("uq_blobs_sha256")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_attempts_email"), ["email"], unique=False)

    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("min_cell", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_table(
        "app_users",
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_app_users_actor_id_actors")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_app_users_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("actor_id", name=op.f("pk_app_users")),
        sa.UniqueConstraint("token", name=op.f("uq_app_users_token")),
    )
    with op.batch_alter_table("app_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_users_project_id"), ["project_id"], unique=False)

    op.create_table(
        "audits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("acted_on", sa.String(length=300), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_audits_actor_id_actors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audits")),
    )
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audits_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audits_actor_id"), ["actor_id"], unique=False)

    op.create_table(
        "forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("xml_form_id", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("current_def_id", sa.Integer(), nullable=True),
        sa.Column("draft_def_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["actors.id"], name=op.f("fk_forms_created_by_actors")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_forms_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forms")),
        sa.UniqueConstraint(
            "project_id", "xml_form_id", name=op.f("uq_forms_project_id_xml_form_id")
        ),
    )
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forms_project_id"), ["project_id"], unique=False)

    op.create_table(
        "project_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_project_assignments_actor_id_actors")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_project_assignments_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_assignments")),
        sa.UniqueConstraint(
            "project_id",
            "actor_id",
            "role_id",
            name=op.f("uq_project_assignments_project_id_actor_id_role_id"),
        ),
    )
    with op.batch_alter_table("project_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_assignments_actor_id"), ["actor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_project_assignments_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_sessions_actor_id_actors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_actor_id"), ["actor_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["actors.id"], name=op.f("fk_users_actor_id_actors")),
        sa.PrimaryKeyConstraint("actor_id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "form_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_form_assignments_actor_id_actors")
        ),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_form_assignments_form_id_forms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_assignments")),
        sa.UniqueConstraint(
            "form_id",
            "actor_id",
            "role_id",
            name=op.f("uq_form_assignments_form_id_actor_id_role_id"),
        ),
    )
    with op.batch_alter_table("form_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_assignments_actor_id"), ["actor_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_form_assignments_form_id"), ["form_id"], unique=False)

    op.create_table(
        "form_defs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("xls_blob_id", sa.Integer(), nullable=True),
        sa.Column("xls_content_type", sa.String(length=200), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("validation", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"], name=op.f("fk_form_defs_form_id_forms")),
        sa.ForeignKeyConstraint(
            ["xls_blob_id"], ["blobs.id"], name=op.f("fk_form_defs_xls_blob_id_blobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_defs")),
    )
    with op.batch_alter_table("form_defs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_defs_form_id"), ["form_id"], unique=False)
        batch_op.create_index(
            "ix_form_defs_published_version",
            ["form_id", "version"],
            unique=True,
            sqlite_where=sa.text("published_at IS NOT NULL"),
            postgresql_where=sa.text("published_at IS NOT NULL"),
        )

    # forms and form_defs point at each other: the forms -> form_defs keys come once both exist.
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_forms_current_def_id_form_defs", "form_defs", ["current_def_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_forms_draft_def_id_form_defs", "form_defs", ["draft_def_id"], ["id"]
        )

    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=300), nullable=False),
        sa.Column("submitter_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=300), nullable=True),
        sa.Column("review_state", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_submissions_form_id_forms")
        ),
        sa.ForeignKeyConstraint(
            ["submitter_id"], ["actors.id"], name=op.f("fk_submissions_submitter_id_actors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint(
            "form_id", "instance_id", name=op.f("uq_submissions_form_id_instance_id")
        ),
    )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_submissions_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_submissions_form_id"), ["form_id"], unique=False)

    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["actors.id"], name=op.f("fk_comments_actor_id_actors")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_comments_submission_id_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comments_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "form_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_def_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("blob_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["blob_id"], ["blobs.id"], name=op.f("fk_form_attachments_blob_id_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["form_def_id"],
            ["form_defs.id"],
            name=op.f("fk_form_attachments_form_def_id_form_defs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_attachments")),
        sa.UniqueConstraint(
            "form_def_id", "name", name=op.f("uq_form_attachments_form_def_id_name")
        ),
    )
    with op.batch_alter_table("form_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_attachments_form_def_id"), ["form_def_id"], unique=False
        )

    op.create_table(
        "form_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_def_id", sa.Integer(), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("control", sa.String(length=32), nullable=True),
        sa.Column("repeat", sa.String(length=1000), nullable=True),
        sa.Column("calculate", sa.Boolean(), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_def_id"], ["form_defs.id"], name=op.f("fk_form_fields_form_def_id_form_defs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_fields")),
    )
    with op.batch_alter_table("form_fields", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_fields_form_def_id"), ["form_def_id"], unique=False
        )

    op.create_table(
        "submission_defs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("form_def_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=300), nullable=False),
        sa.Column("instance_name", sa.String(length=500), nullable=True),
        sa.Column("deprecated_id", sa.String(length=300), nullable=True),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("xml_sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("submitter_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=300), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("attachments_expected", sa.Integer(), nullable=False),
        sa.Column("attachments_present", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_def_id"], ["form_defs.id"], name=op.f("fk_submission_defs_form_def_id_form_defs")
        ),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_submission_defs_form_id_forms")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_defs_submission_id_submissions"),
        ),
        sa.ForeignKeyConstraint(
            ["submitter_id"], ["actors.id"], name=op.f("fk_submission_defs_submitter_id_actors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_defs")),
        sa.UniqueConstraint(
            "form_id", "instance_id", name=op.f("uq_submission_defs_form_id_instance_id")
        ),
    )
    with op.batch_alter_table("submission_defs", schema=None) as batch_op:
        batch_op.create_index("ix_submission_defs_current", ["form_id", "current"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_submission_defs_form_def_id"), ["form_def_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_submission_defs_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "submission_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_def_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("blob_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["blob_id"], ["blobs.id"], name=op.f("fk_submission_attachments_blob_id_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["submission_def_id"],
            ["submission_defs.id"],
            name=op.f("fk_submission_attachments_submission_def_id_submission_defs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_attachments")),
        sa.UniqueConstraint(
            "submission_def_id",
            "name",
            name=op.f("uq_submission_attachments_submission_def_id_name"),
        ),
    )
    with op.batch_alter_table("submission_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submission_attachments_submission_def_id"),
            ["submission_def_id"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_constraint("fk_forms_current_def_id_form_defs", type_="foreignkey")
        batch_op.drop_constraint("fk_forms_draft_def_id_form_defs", type_="foreignkey")

    with op.batch_alter_table("submission_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_attachments_submission_def_id"))

    op.drop_table("submission_attachments")
    with op.batch_alter_table("submission_defs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_defs_submission_id"))
        batch_op.drop_index(batch_op.f("ix_submission_defs_form_def_id"))
        batch_op.drop_index("ix_submission_defs_current")

    op.drop_table("submission_defs")
    with op.batch_alter_table("form_fields", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_fields_form_def_id"))

    op.drop_table("form_fields")
    with op.batch_alter_table("form_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_attachments_form_def_id"))

    op.drop_table("form_attachments")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comments_submission_id"))

    op.drop_table("comments")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submissions_form_id"))
        batch_op.drop_index(batch_op.f("ix_submissions_created_at"))

    op.drop_table("submissions")
    with op.batch_alter_table("form_defs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_form_defs_published_version",
            sqlite_where=sa.text("published_at IS NOT NULL"),
            postgresql_where=sa.text("published_at IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_form_defs_form_id"))

    op.drop_table("form_defs")
    with op.batch_alter_table("form_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_assignments_form_id"))
        batch_op.drop_index(batch_op.f("ix_form_assignments_actor_id"))

    op.drop_table("form_assignments")
    op.drop_table("users")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_actor_id"))

    op.drop_table("sessions")
    with op.batch_alter_table("project_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_assignments_project_id"))
        batch_op.drop_index(batch_op.f("ix_project_assignments_actor_id"))

    op.drop_table("project_assignments")
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forms_project_id"))

    op.drop_table("forms")
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audits_actor_id"))
        batch_op.drop_index(batch_op.f("ix_audits_action"))

    op.drop_table("audits")
    with op.batch_alter_table("app_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_users_project_id"))

    op.drop_table("app_users")
    op.drop_table("projects")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempts_email"))

    op.drop_table("login_attempts")
    op.drop_table("blobs")
    op.drop_table("actors")
