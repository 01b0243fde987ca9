"""Task reminders: minutes before the due moment, the reminder's moment, when it was sent.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("remind_minutes", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("remind_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(), nullable=True))
    op.create_index("ix_tasks_remind", "tasks", ["status", "reminded_at", "remind_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_remind", "tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("reminded_at")
        batch.drop_column("remind_at")
        batch.drop_column("remind_minutes")
