"""Customer pools: pools, their records, the claim log, claim counters, reclaim warnings.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pools",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(41), nullable=False, unique=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("see_roles", sa.JSON(), nullable=False),
        sa.Column("see_departments", sa.JSON(), nullable=False),
        sa.Column("claim_roles", sa.JSON(), nullable=False),
        sa.Column("claim_departments", sa.JSON(), nullable=False),
        sa.Column("daily_limit", sa.Integer(), nullable=False),
        sa.Column("holding_cap", sa.Integer(), nullable=False),
        sa.Column("cooldown_days", sa.Integer(), nullable=False),
        sa.Column("no_activity_days", sa.Integer(), nullable=False),
        sa.Column("no_stage_move_days", sa.Integer(), nullable=False),
        sa.Column("no_won_days", sa.Integer(), nullable=False),
        sa.Column("warn_days", sa.Integer(), nullable=False),
        sa.Column("protected_field", sa.String(41), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_pools_entity_key", "pools", ["entity_key"])
    op.create_table(
        "pool_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "pool_id",
            sa.Integer(),
            sa.ForeignKey("pools.id", name="fk_pool_entries_pool_id_pools", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("previous_owner_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.UniqueConstraint("entity_key", "record_id", name="uq_pool_entries_record"),
    )
    op.create_index("ix_pool_entries_pool", "pool_entries", ["pool_id", "entered_at"])
    op.create_table(
        "pool_claims",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "pool_id",
            sa.Integer(),
            sa.ForeignKey("pools.id", name="fk_pool_claims_pool_id_pools", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_pool_claims_record", "pool_claims", ["entity_key", "record_id", "at"])
    op.create_index("ix_pool_claims_user", "pool_claims", ["user_id", "at"])
    op.create_table(
        "pool_claim_counts",
        sa.Column(
            "pool_id",
            sa.Integer(),
            sa.ForeignKey(
                "pools.id", name="fk_pool_claim_counts_pool_id_pools", ondelete="CASCADE"
            ),
            primary_key=True,
        ),
        sa.Column("user_id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("claimed", sa.Integer(), nullable=False),
    )
    op.create_table(
        "pool_warnings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("entity_key", "record_id", "owner_id", "due", name="uq_pool_warnings"),
    )


def downgrade() -> None:
    op.drop_table("pool_warnings")
    op.drop_table("pool_claim_counts")
    op.drop_index("ix_pool_claims_user", "pool_claims")
    op.drop_index("ix_pool_claims_record", "pool_claims")
    op.drop_table("pool_claims")
    op.drop_index("ix_pool_entries_pool", "pool_entries")
    op.drop_table("pool_entries")
    op.drop_index("ix_pools_entity_key", "pools")
    op.drop_table("pools")
