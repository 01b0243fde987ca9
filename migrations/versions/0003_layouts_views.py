"""Form layouts and list views.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta_layouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meta_layouts"),
        sa.UniqueConstraint("entity_key", "kind", name="uq_meta_layouts_entity_key_kind"),
    )
    op.create_table(
        "meta_list_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("sort", sa.JSON(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_meta_list_views_owner_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_meta_list_views"),
    )
    op.create_index("ix_meta_list_views_entity_key", "meta_list_views", ["entity_key"])
    op.create_index("ix_meta_list_views_owner_id", "meta_list_views", ["owner_id"])


def downgrade() -> None:
    op.drop_index("ix_meta_list_views_owner_id", table_name="meta_list_views")
    op.drop_index("ix_meta_list_views_entity_key", table_name="meta_list_views")
    op.drop_table("meta_list_views")
    op.drop_table("meta_layouts")
