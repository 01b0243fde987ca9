"""Go-live packs: an ordered set of import files run one after the other.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "golive_packs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_golive_packs_user_id_users", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("failed_step", sa.String(41), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_golive_packs_created_at", "golive_packs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_golive_packs_created_at", table_name="golive_packs")
    op.drop_table("golive_packs")
