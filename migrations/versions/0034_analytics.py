"""Pipeline analytics: sales targets, dashboards and their tiles.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_targets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_analytics_targets_user_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column(
            "set_by",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_analytics_targets_set_by", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("entity_key", "user_id", "month", name="uq_analytics_targets_who_when"),
    )
    op.create_index("ix_analytics_targets_user_id", "analytics_targets", ["user_id"])
    op.create_table(
        "analytics_dashboards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_analytics_dashboards_user_id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column(
            "role_id",
            sa.Integer(),
            sa.ForeignKey("roles.id", name="fk_analytics_dashboards_role_id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey(
                "users.id", name="fk_analytics_dashboards_created_by", ondelete="SET NULL"
            ),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_analytics_dashboards_user_id", "analytics_dashboards", ["user_id"])
    op.create_index("ix_analytics_dashboards_role_id", "analytics_dashboards", ["role_id"])
    op.create_table(
        "analytics_tiles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "dashboard_id",
            sa.Integer(),
            sa.ForeignKey(
                "analytics_dashboards.id",
                name="fk_analytics_tiles_dashboard_id",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("config", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_analytics_tiles_dashboard_id", "analytics_tiles", ["dashboard_id"])


def downgrade() -> None:
    op.drop_index("ix_analytics_tiles_dashboard_id", "analytics_tiles")
    op.drop_table("analytics_tiles")
    op.drop_index("ix_analytics_dashboards_role_id", "analytics_dashboards")
    op.drop_index("ix_analytics_dashboards_user_id", "analytics_dashboards")
    op.drop_table("analytics_dashboards")
    op.drop_index("ix_analytics_targets_user_id", "analytics_targets")
    op.drop_table("analytics_targets")
