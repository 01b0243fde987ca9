"""Quick search in any script: gram indexes beside the trigram ones; FTS columns prefixed.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Every entity table's search structures are rebuilt as ``crm.schema.search`` defines them
(the repair ``crm rebuild-search`` runs, see ``crm.schema.repair``), indexing every record:

- SQLite: the trigram FTS5 table becomes contentless with its columns named ``f_<key>``
  (FTS5 refuses a column named ``rowid`` or ``rank``), and a gram table
  ``x_<entity>__fts_cjk`` with its triggers is added;
- PostgreSQL: the function ``crm_cjk_grams`` and a GIN index of each searchable field's
  grams are added.

The entities and fields are read with plain SQL (only the columns this needs), so a later
migration adding columns to the metadata tables does not break this one. Building the
indexes reads each table once: seconds per million records.
"""

import sqlalchemy as sa
from alembic import op

from crm.metadata.spec import EntitySpec, FieldSpec
from crm.schema import search

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _specs() -> list[EntitySpec]:
    """The entities with a table, with the fields quick search reads (key, type, position,
    searchable, archived), in position order."""
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    fields: dict[int, list[FieldSpec]] = {}
    for row in bind.execute(
        sa.text(
            "SELECT entity_id, key, type, label, position, searchable, archived_at FROM meta_fields"
        )
    ):
        fields.setdefault(row.entity_id, []).append(
            FieldSpec(
                key=row.key,
                type=row.type,
                label=row.label,
                position=row.position or 0,
                searchable=bool(row.searchable),
                archived=row.archived_at is not None,
            )
        )
    specs = []
    for row in bind.execute(sa.text("SELECT id, key FROM meta_entities ORDER BY key")):
        own = sorted(fields.get(row.id, []), key=lambda f: (f.position, f.key))
        spec = EntitySpec(row.key, row.key, row.key, fields=tuple(own))
        if spec.table_name in existing:
            specs.append(spec)
    return specs


def upgrade() -> None:
    for spec in _specs():
        search.rebuild(op.get_bind(), spec)


def downgrade() -> None:
    """Back to revision 0011's structures: SQLite's external-content trigram table over the
    unprefixed columns (a field keyed ``rowid`` or ``rank`` then has none); PostgreSQL's
    trigram indexes alone."""
    bind = op.get_bind()
    for spec in _specs():
        if bind.dialect.name != "sqlite":
            for name in search.gram_indexes(spec):
                op.execute(f'DROP INDEX IF EXISTS "{name}"')
            continue
        search.drop(bind, spec, None)
        columns = [f.column for f in search.search_fields(spec)]
        if not columns or {"rowid", "rank", "oid"} & set(columns):
            continue
        fts, table = f'"{search.fts_table(spec)}"', f'"{spec.table_name}"'
        cols = ", ".join(f'"{c}"' for c in columns)
        new = ", ".join(f'new."{c}"' for c in columns)
        old = ", ".join(f'old."{c}"' for c in columns)
        # Key-derived identifiers only (validated keys), as in crm.schema.search.
        delete_old = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"  # noqa: S608
        insert_new = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"  # noqa: S608
        trigger = search.fts_table(spec)
        for statement in (
            f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content={table}, "
            "content_rowid='id', tokenize='trigram')",
            f'CREATE TRIGGER "{trigger}_ai" AFTER INSERT ON {table} BEGIN {insert_new} END',
            f'CREATE TRIGGER "{trigger}_ad" AFTER DELETE ON {table} BEGIN {delete_old} END',
            f'CREATE TRIGGER "{trigger}_au" AFTER UPDATE ON {table} '
            f"BEGIN {delete_old} {insert_new} END",
            f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",  # noqa: S608
        ):
            op.execute(statement)
    if bind.dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS crm_cjk_grams(text)")
