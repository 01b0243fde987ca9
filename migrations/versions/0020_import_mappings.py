"""Saved import mappings: per entity, under a name, with the columns they were made for.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_mappings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("entity_key", "name", name="uq_import_mappings_name"),
    )
    op.create_index("ix_import_mappings_entity_key", "import_mappings", ["entity_key"])


def downgrade() -> None:
    op.drop_index("ix_import_mappings_entity_key", table_name="import_mappings")
    op.drop_table("import_mappings")
