"""Seed records of packages: which record each package seed record ("@key") became.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "package_seed_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("seed_key", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("package_name", sa.String(64), nullable=False),
        sa.Column("base", sa.JSON(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("entity_key", "seed_key", name="uq_package_seed_records_key"),
    )
    op.create_index(
        "ix_package_seed_records_record", "package_seed_records", ["entity_key", "record_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_package_seed_records_record", table_name="package_seed_records")
    op.drop_table("package_seed_records")
