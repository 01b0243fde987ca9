"""Tasks and logged activities on records.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_time", sa.Time(), nullable=True),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column(
            "assignee_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_tasks_assignee_id_users", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_tasks_record", "tasks", ["entity_key", "record_id", "status"])
    op.create_index("ix_tasks_assignee", "tasks", ["assignee_id", "status", "due_date"])
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("happened_at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_activities_record", "activities", ["entity_key", "record_id", "happened_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_activities_record", table_name="activities")
    op.drop_table("activities")
    op.drop_index("ix_tasks_assignee", table_name="tasks")
    op.drop_index("ix_tasks_record", table_name="tasks")
    op.drop_table("tasks")
