"""Apply planned operations with Alembic's ``Operations`` on the caller's connection.

Runs inside the caller's transaction: on SQLite (with the BEGIN recipe of ``crm.db``) and
on PostgreSQL, every statement here rolls back with the metadata rows if anything fails.
"""

from __future__ import annotations

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from crm.metadata import types
from crm.metadata.compile import build_table, field_column, spine_columns
from crm.schema import search
from crm.schema.plan import (
    AddColumn,
    AlterColumnType,
    CreateIndex,
    CreateSearch,
    CreateTable,
    DropColumn,
    DropIndex,
    DropSearch,
    DropTable,
    Op,
)

LIVE_ONLY = "deleted_at IS NULL"


def operations(connection: Connection) -> Operations:
    return Operations(MigrationContext.configure(connection))


def apply_ops(connection: Connection, ops: list[Op]) -> None:
    """Execute ``ops`` in order on ``connection`` (no commit)."""
    op = operations(connection)
    sqlite = connection.dialect.name == "sqlite"
    for item in ops:
        match item:
            case CreateTable(entity=e):
                op.create_table(
                    e.table_name, *spine_columns(), *(field_column(f) for f in e.fields)
                )
            case DropSearch(before=b, after=a):
                search.drop(connection, b, a)
            case CreateSearch(after=a):
                search.create(connection, a)
            case DropTable(entity=e):
                op.drop_table(e.table_name)
            case AddColumn(table=t, field=f):
                op.add_column(t, field_column(f))
            case CreateIndex(table=t, name=n, columns=c, unique=u):
                where = {"sqlite_where": text(LIVE_ONLY), "postgresql_where": text(LIVE_ONLY)}
                op.create_index(n, t, list(c), unique=u, **(where if u else {}))
            case DropIndex(table=t, name=n):
                op.drop_index(n, table_name=t)
            case DropColumn(table=t, field=f):
                op.drop_column(t, f.column)
            case AlterColumnType(entity=e, before=b, after=a):
                old_type = types.get(b.type).sa_type(b)
                new_type = types.get(a.type).sa_type(a)
                if sqlite:
                    _sqlite_rebuild(op, e, b, a)
                else:
                    compiled = new_type.compile(dialect=connection.dialect)
                    column = connection.dialect.identifier_preparer.quote(b.column)
                    op.alter_column(
                        e.table_name,
                        b.column,
                        type_=new_type,
                        existing_type=old_type,
                        postgresql_using=f"{column}::{compiled}",
                    )
            case _:
                raise TypeError(f"Unknown operation {item!r}")


def _sqlite_rebuild(op: Operations, entity, before, after) -> None:
    """SQLite cannot change a column's type in place: Alembic's batch mode copies the table.

    ``copy_from`` describes the table exactly as it is (our spec, not reflection, so that
    partial unique indexes keep their WHERE clause); indexes on the changed column were
    dropped by the plan and are recreated by it afterwards.
    """
    table = build_table(entity, MetaData())
    for index in list(table.indexes):
        if any(col.name == before.column for col in index.columns):
            table.indexes.discard(index)
    with op.batch_alter_table(entity.table_name, copy_from=table, recreate="always") as batch:
        batch.alter_column(
            before.column,
            type_=types.get(after.type).sa_type(after),
            existing_type=types.get(before.type).sa_type(before),
        )
