"""Quick-search structures of an entity, kept in step by the schema pipeline.

- SQLite: an FTS5 table ``x_<entity>__fts`` with the trigram tokenizer over the searchable
  fields, as an external-content table of ``x_<entity>`` kept in sync by three triggers.
  A trigram MATCH finds substrings (3+ characters) through the index, in any script.
- PostgreSQL: one GIN trigram index per searchable field (``pg_trgm``), which ILIKE
  '%term%' uses.

Names derive from keys, which are validated identifiers (``^[a-z][a-z0-9_]*$``), so the
DDL below interpolates no user text.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

from crm.metadata import types
from crm.metadata.compile import index_name
from crm.metadata.spec import EntitySpec, FieldSpec

MIN_TRIGRAM = 3


def search_fields(spec: EntitySpec | None) -> tuple[FieldSpec, ...]:
    """The fields quick search looks in (active, searchable, text-like), in position order."""
    if spec is None:
        return ()
    return tuple(f for f in spec.active_fields if f.searchable and types.get(f.type).textual)


def fts_table(spec: EntitySpec) -> str:
    return f"{spec.table_name}__fts"


def trigram_indexes(spec: EntitySpec | None) -> dict[str, str]:
    """PostgreSQL: index name -> column for each search field."""
    if spec is None:
        return {}
    return {index_name(spec.table_name, f"{f.column}_trgm"): f.column for f in search_fields(spec)}


def drop(connection: Connection, before: EntitySpec, after: EntitySpec | None) -> None:
    """Remove what ``after`` no longer needs (SQLite: everything, rebuilt by ``create``)."""
    # Identifiers only, each checked by _q(); DDL takes no bind parameters.
    if connection.dialect.name == "sqlite":
        name = fts_table(before)
        for suffix in ("ai", "ad", "au"):
            connection.execute(text(f"DROP TRIGGER IF EXISTS {_q(name + '_' + suffix)}"))
        connection.execute(text(f"DROP TABLE IF EXISTS {_q(name)}"))
        return
    keep = trigram_indexes(after)
    for name in trigram_indexes(before):
        if name not in keep:
            connection.execute(text(f"DROP INDEX IF EXISTS {_q(name)}"))


_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _q(name: str) -> str:
    """A quoted identifier; refuses anything but a key-derived name (defence in depth:
    keys are validated on creation, so this never fires for a real entity)."""
    if not _IDENT.match(name):
        raise ValueError(f"Refusing an unexpected identifier {name!r}")
    return f'"{name}"'


def create(connection: Connection, spec: EntitySpec) -> None:
    """Build the search structures of ``spec`` (indexing existing rows)."""
    fields = search_fields(spec)
    if connection.dialect.name != "sqlite":
        for name, column in trigram_indexes(spec).items():
            connection.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {_q(name)} ON {_q(spec.table_name)} "
                    f"USING gin ({_q(column)} gin_trgm_ops)"
                )
            )
        return
    if not fields:
        return
    fts, table = _q(fts_table(spec)), _q(spec.table_name)
    cols = ", ".join(_q(f.column) for f in fields)
    new = ", ".join(f"new.{_q(f.column)}" for f in fields)
    old = ", ".join(f"old.{_q(f.column)}" for f in fields)
    delete_old = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
    insert_new = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"
    trigger = fts_table(spec)
    statements = [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content={table}, "
        "content_rowid='id', tokenize='trigram')",
        f"CREATE TRIGGER {_q(trigger + '_ai')} AFTER INSERT ON {table} BEGIN {insert_new} END",
        f"CREATE TRIGGER {_q(trigger + '_ad')} AFTER DELETE ON {table} BEGIN {delete_old} END",
        f"CREATE TRIGGER {_q(trigger + '_au')} AFTER UPDATE ON {table} "
        f"BEGIN {delete_old} {insert_new} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]
    for statement in statements:
        connection.execute(text(statement))


def fts_phrase(q: str) -> str:
    """A user's search text as one FTS5 phrase (quotes doubled): no FTS syntax gets through."""
    return '"' + q.replace('"', '""') + '"'


def uses_index(dialect: str, q: str) -> bool:
    return dialect == "postgresql" or len(q) >= MIN_TRIGRAM


def signature(spec: EntitySpec | None) -> tuple:
    """What the search structures depend on: a difference means rebuilding them."""
    return tuple((f.key, f.type) for f in search_fields(spec))
