"""Saved reports and the roles they are shared with.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column(
            "owner_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_reports_owner_id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_reports_owner", "reports", ["owner_id"])
    op.create_table(
        "report_shares",
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("reports.id", name="fk_report_shares_report_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "role_id",
            sa.Integer(),
            sa.ForeignKey("roles.id", name="fk_report_shares_role_id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_report_shares_role", "report_shares", ["role_id"])


def downgrade() -> None:
    op.drop_table("report_shares")
    op.drop_table("reports")
