"""Record history (field changes) and notes: the record timeline.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_record_history"),
    )
    op.create_index("ix_record_history_record", "record_history", ["entity_key", "record_id", "at"])
    op.create_table(
        "record_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_record_notes"),
    )
    op.create_index("ix_record_notes_record", "record_notes", ["entity_key", "record_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_record_notes_record", table_name="record_notes")
    op.drop_table("record_notes")
    op.drop_index("ix_record_history_record", table_name="record_history")
    op.drop_table("record_history")
