"""Duplicate rules and their blocking keys.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(41), nullable=False, unique=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("on_create", sa.Boolean(), nullable=False),
        sa.Column("on_edit", sa.Boolean(), nullable=False),
        sa.Column("compare_entity_key", sa.String(41), nullable=True),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_duplicate_rules_entity", "duplicate_rules", ["entity_key", "enabled"])
    op.create_table(
        "dedupe_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_key", sa.String(41), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
    )
    op.create_index(
        "ix_dedupe_keys_lookup", "dedupe_keys", ["entity_key", "rule_key", "key", "record_id"]
    )
    op.create_index("ix_dedupe_keys_record", "dedupe_keys", ["entity_key", "record_id"])


def downgrade() -> None:
    op.drop_index("ix_dedupe_keys_record", "dedupe_keys")
    op.drop_index("ix_dedupe_keys_lookup", "dedupe_keys")
    op.drop_table("dedupe_keys")
    op.drop_index("ix_duplicate_rules_entity", "duplicate_rules")
    op.drop_table("duplicate_rules")
