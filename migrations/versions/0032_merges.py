"""Duplicate scans and record merges (with the pointer from a merged record to its master).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_scans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False, unique=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("computed_at", sa.DateTime(), nullable=True),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
    )
    op.create_table(
        "record_merges",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("master_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("undone_by", sa.Integer(), nullable=True),
    )
    op.create_index("ix_record_merges_master", "record_merges", ["entity_key", "master_id"])
    op.create_table(
        "merged_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "merge_id",
            sa.Integer(),
            sa.ForeignKey(
                "record_merges.id", name="fk_merged_records_merge_id", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("master_id", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_merged_records_merge_id", "merged_records", ["merge_id"])
    op.create_index("ix_merged_records_record", "merged_records", ["entity_key", "record_id"])


def downgrade() -> None:
    op.drop_index("ix_merged_records_record", "merged_records")
    op.drop_index("ix_merged_records_merge_id", "merged_records")
    op.drop_table("merged_records")
    op.drop_index("ix_record_merges_master", "record_merges")
    op.drop_table("record_merges")
    op.drop_table("duplicate_scans")
