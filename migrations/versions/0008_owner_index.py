"""Entity tables: the owner index also orders by last change (and id, the tie-breaker).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

"My records, latest change first" is the list everyone opens. With an index on the owner
alone, the database reads all of the owner's records and sorts them for every page (a
temporary B-tree of ~5,000 rows per owner at 1,000,000 records); with (owner, last change)
it reads the first page in order. The index keeps its name, so the schema pipeline and the
doctor (``crm.metadata.compile.SPINE_INDEXED``) describe the same thing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _entity_tables() -> list[str]:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    keys = bind.execute(sa.text("SELECT key FROM meta_entities")).scalars().all()
    return [f"x_{key}" for key in keys if f"x_{key}" in existing]


def _rebuild(columns: list[str]) -> None:
    for table in _entity_tables():
        name = f"ix_{table}__owner_id"  # keys are at most 41 characters: never shortened
        indexes = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}
        if name in indexes:
            op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)


def upgrade() -> None:
    _rebuild(["owner_id", "updated_at", "id"])


def downgrade() -> None:
    _rebuild(["owner_id"])
