"""Usage recording: one row per person, day and area, with a counter (issue 19).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_days",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_usage_days_user_id_users", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("entity_key", sa.String(41), nullable=False, server_default=""),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("detail", sa.String(64), nullable=False, server_default=""),
        sa.Column("count", sa.Integer(), nullable=False, server_default="1"),
        sa.UniqueConstraint("day", "user_id", "entity_key", "kind", "detail", name="uq_usage_days"),
    )
    op.create_index("ix_usage_days_user", "usage_days", ["user_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_usage_days_user", table_name="usage_days")
    op.drop_table("usage_days")
