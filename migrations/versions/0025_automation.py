"""Automation rules, their run log and the marks of scheduled firings.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "automation_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(41), nullable=False, unique=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "owner_id",
            sa.Integer(),
            sa.ForeignKey(
                "users.id", name="fk_automation_rules_owner_id_users", ondelete="SET NULL"
            ),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_automation_rules_entity", "automation_rules", ["entity_key", "enabled"])
    op.create_table(
        "automation_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "rule_id",
            sa.Integer(),
            sa.ForeignKey(
                "automation_rules.id", name="fk_automation_runs_rule_id", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("did", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_automation_runs_rule", "automation_runs", ["rule_id", "id"])
    op.create_table(
        "automation_firings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "rule_id",
            sa.Integer(),
            sa.ForeignKey(
                "automation_rules.id", name="fk_automation_firings_rule_id", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("occasion", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("rule_id", "record_id", "occasion", name="uq_automation_firings"),
    )


def downgrade() -> None:
    op.drop_table("automation_firings")
    op.drop_index("ix_automation_runs_rule", "automation_runs")
    op.drop_table("automation_runs")
    op.drop_index("ix_automation_rules_entity", "automation_rules")
    op.drop_table("automation_rules")
