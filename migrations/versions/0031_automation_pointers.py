"""The round-robin pointer of assignment rules.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "automation_pointers",
        sa.Column(
            "rule_id",
            sa.Integer(),
            sa.ForeignKey(
                "automation_rules.id", name="fk_automation_pointers_rule_id", ondelete="CASCADE"
            ),
            primary_key=True,
        ),
        sa.Column("last_user_id", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("automation_pointers")
