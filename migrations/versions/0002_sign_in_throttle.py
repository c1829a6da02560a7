"""Sign-in attempts keep the client's address and device cookie, to throttle per client.

Existing rows are kept: with no address they count only towards their email's slow-down, and
they age out of the fifteen-minute window like any other.

Revision ID: 0002_sign_in_throttle
Revises: 0001
Create Date: 2026-12-02 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002_sign_in_throttle"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("device", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_login_attempts_address"), ["address"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_login_attempts_attempted_at"), ["attempted_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempts_attempted_at"))
        batch_op.drop_index(batch_op.f("ix_login_attempts_address"))
        batch_op.drop_column("device")
        batch_op.drop_column("address")
