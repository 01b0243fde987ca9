"""Writing many rows of one table at once, in the current transaction (imports, bulk
creates): the fastest way each engine has, with the values converted as SQLAlchemy
converts them.

- SQLite: SQLAlchemy Core executemany (its "insertmanyvalues": multi-row INSERTs of up to
  1,000 rows), with RETURNING when the ids are wanted.
- PostgreSQL: ``COPY ... FROM STDIN`` through psycopg's ``Cursor.copy``. An INSERT of many
  rows costs psycopg a parse of the statement's text each time (statements that long are
  not cached) and an executemany without RETURNING is one statement per row; COPY sends
  the rows as one stream. The new ids are reserved first from the table's sequence, with
  one ``nextval`` query, and written with the rows.

Only the columns named are written: Python-side column defaults are not applied (the
callers name every column they fill; the id is the database's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, text

from crm.binds import assign_many, bind_name
from crm.extensions import db

CHUNK = 1000  # rows per executemany (SQLite)

__all__ = ["CHUNK", "insert_rows"]


def insert_rows(
    table: Table, keys: Sequence[str], rows: Sequence[Sequence[Any]], *, ids: bool = False
) -> list[int]:
    """Insert ``rows`` (tuples of the values of the columns ``keys``, in that order) into
    ``table``; with ``ids``, returns the new rows' ids in the rows' order (else [])."""
    if not rows:
        return []
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        return _copy(connection, table, keys, rows, ids)
    return _executemany(table, keys, rows, ids)


def _executemany(table: Table, keys: Sequence[str], rows, ids: bool) -> list[int]:
    names = [bind_name(k) for k in keys]
    statement = insert(table).values(assign_many(table, keys))
    out: list[int] = []
    for start in range(0, len(rows), CHUNK):
        chunk = [dict(zip(names, row, strict=True)) for row in rows[start : start + CHUNK]]
        if not ids:
            db.session.execute(statement, chunk)
            continue
        # The rows of one INSERT get rowids in their order (the writer holds the
        # database; each row takes the highest rowid plus one): sorted, the ids are in the
        # rows' order. (``sort_by_parameter_order`` would make SQLAlchemy insert them one
        # by one on SQLite.)
        out += sorted(db.session.scalars(statement.returning(table.c.id), chunk))
    return out


def _copy(connection, table: Table, keys: Sequence[str], rows, ids: bool) -> list[int]:
    dialect = connection.dialect
    columns = [table.c[k] for k in keys]
    convert = [
        (i, c.type.dialect_impl(dialect).bind_processor(dialect)) for i, c in enumerate(columns)
    ]
    convert = [(i, p) for i, p in convert if p is not None]
    new_ids: list[int] = []
    if ids:
        sequence = connection.scalar(
            select(func.pg_get_serial_sequence(table.name, table.c.id.name))
        )
        new_ids = list(
            connection.scalars(
                text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                {"seq": sequence, "n": len(rows)},
            )
        )
    quoted = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    head = dialect.identifier_preparer.quote(table.c.id.name) + ", " if ids else ""
    statement = (
        f"COPY {dialect.identifier_preparer.format_table(table)} ({head}{quoted}) FROM STDIN"
    )
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for n, row in enumerate(rows):
            if convert:
                row = list(row)
                for i, process in convert:
                    row[i] = process(row[i])
            copy.write_row((new_ids[n], *row) if ids else row)
    return new_ids
