"""Labels in every language: a ``translations`` JSON column on the metadata rows whose
labels administrators type.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08

``meta_entities`` ({"singular": {locale: text}, "plural": {...}}), ``meta_fields``
({"label": {...}, "help": {...}}), ``meta_list_views``, ``roles`` and ``departments``
({"name": {...}}). Picklist values (``meta_fields.choices``) and layout sections
(``meta_layouts.definition``) carry theirs inside the JSON they already are ("labels",
"titles"): nothing to migrate there. Existing rows get ``{}``: no translation, every reader
sees the plain label, as before (``crm.metadata.labels``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("meta_entities", "meta_fields", "meta_list_views", "roles", "departments")


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch rebuild: on SQLite a rebuilt table loses its triggers
    # (roles and departments carry the access stamp's, migration 0007).
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        )


def downgrade() -> None:
    # SQLite drops a column in place (3.35 and later), keeping the tables' triggers.
    for table in reversed(TABLES):
        op.drop_column(table, "translations")
