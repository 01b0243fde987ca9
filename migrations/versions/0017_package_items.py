"""Package provenance: which package (name, version, content hash) each item came from.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "package_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.String(400), nullable=False),
        sa.Column("package_name", sa.String(64), nullable=False),
        sa.Column("package_version", sa.String(40), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("base", sa.JSON(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("path", name="uq_package_items_path"),
    )
    op.create_index("ix_package_items_package_name", "package_items", ["package_name"])


def downgrade() -> None:
    op.drop_index("ix_package_items_package_name", table_name="package_items")
    op.drop_table("package_items")
