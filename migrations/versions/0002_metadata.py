"""Metadata: entities, fields, the metadata version, auto-number sequences, change log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meta_version"),
    )
    op.execute("INSERT INTO meta_version (id, version) VALUES (1, 1)")
    op.create_table(
        "meta_entities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(41), nullable=False),
        sa.Column("label_singular", sa.String(200), nullable=False),
        sa.Column("label_plural", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("icon", sa.String(40), nullable=False),
        sa.Column("color", sa.String(20), nullable=False),
        sa.Column("name_field", sa.String(41), nullable=True),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meta_entities"),
        sa.UniqueConstraint("key", name="uq_meta_entities_key"),
    )
    op.create_table(
        "meta_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(41), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("help_text", sa.Text(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("unique", sa.Boolean(), nullable=False),
        sa.Column("default", sa.JSON(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("searchable", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["meta_entities.id"],
            name="fk_meta_fields_entity_id_meta_entities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_meta_fields"),
        sa.UniqueConstraint("entity_id", "key", name="uq_meta_fields_entity_id_key"),
    )
    op.create_index("ix_meta_fields_entity_id", "meta_fields", ["entity_id"])
    op.create_table(
        "meta_sequences",
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("field_key", sa.String(41), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entity_key", "field_key", name="pk_meta_sequences"),
    )
    op.create_table(
        "meta_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("field_key", sa.String(41), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_meta_changes"),
    )
    op.create_index("ix_meta_changes_at", "meta_changes", ["at"])
    op.create_index("ix_meta_changes_entity_key", "meta_changes", ["entity_key"])


def downgrade() -> None:
    op.drop_table("meta_changes")
    op.drop_table("meta_sequences")
    op.drop_index("ix_meta_fields_entity_id", table_name="meta_fields")
    op.drop_table("meta_fields")
    op.drop_table("meta_entities")
    op.drop_table("meta_version")
