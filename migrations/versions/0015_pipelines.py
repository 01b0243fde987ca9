"""Pipelines, their stages, and the history of moves between stages.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta_pipelines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("key", sa.String(41), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("entity_key", "key", name="uq_meta_pipelines_entity_key_key"),
    )
    op.create_index("ix_meta_pipelines_entity_key", "meta_pipelines", ["entity_key"])
    op.create_table(
        "meta_stages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "pipeline_id",
            sa.Integer(),
            sa.ForeignKey("meta_pipelines.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("key", sa.String(41), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(10), nullable=False),
        sa.Column("color", sa.String(20), nullable=False),
        sa.Column("required_fields", sa.JSON(), nullable=False),
        sa.Column("stale_days", sa.Integer(), nullable=True),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("entity_key", "key", name="uq_meta_stages_entity_key_key"),
    )
    op.create_index("ix_meta_stages_pipeline_id", "meta_stages", ["pipeline_id"])
    op.create_table(
        "stage_moves",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("pipeline", sa.String(41), nullable=False),
        sa.Column("from_stage", sa.String(41), nullable=True),
        sa.Column("to_stage", sa.String(41), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("seconds_in_from", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_stage_moves_record", "stage_moves", ["entity_key", "record_id", "at"])
    op.create_index("ix_stage_moves_pipeline", "stage_moves", ["entity_key", "pipeline", "at"])


def downgrade() -> None:
    op.drop_table("stage_moves")
    op.drop_table("meta_stages")
    op.drop_table("meta_pipelines")
