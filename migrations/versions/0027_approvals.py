"""Approval rules, the requests they hold and the decisions on them.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(41), nullable=False, unique=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_approval_rules_entity", "approval_rules", ["entity_key", "enabled"])
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "rule_id",
            sa.Integer(),
            sa.ForeignKey(
                "approval_rules.id", name="fk_approval_requests_rule_id", ondelete="SET NULL"
            ),
            nullable=True,
        ),
        sa.Column("rule_name", sa.String(200), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column(
            "requested_by",
            sa.Integer(),
            sa.ForeignKey(
                "users.id", name="fk_approval_requests_requested_by", ondelete="SET NULL"
            ),
            nullable=True,
        ),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
    )
    op.create_index(
        "ix_approval_requests_record", "approval_requests", ["entity_key", "record_id", "status"]
    )
    op.create_index("ix_approval_requests_status", "approval_requests", ["status", "id"])
    op.create_table(
        "approval_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey(
                "approval_requests.id",
                name="fk_approval_decisions_request_id",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_approval_decisions_user_id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_approval_decisions_request", "approval_decisions", ["request_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_approval_decisions_request", "approval_decisions")
    op.drop_table("approval_decisions")
    op.drop_index("ix_approval_requests_status", "approval_requests")
    op.drop_index("ix_approval_requests_record", "approval_requests")
    op.drop_table("approval_requests")
    op.drop_index("ix_approval_rules_entity", "approval_rules")
    op.drop_table("approval_rules")
