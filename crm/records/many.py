"""Writing many rows of one table at once, in the current transaction (imports, bulk
creates): the fastest way each engine has, with the values converted as SQLAlchemy
converts them.

- SQLite: the driver's executemany of one INSERT (SQLAlchemy's executemany spends more
  on each row's parameters than SQLite on the row); the ids are the consecutive rowids
  the rows get (``_sqlite``).
- PostgreSQL: ``COPY ... FROM STDIN`` through psycopg's ``Cursor.copy``. An INSERT of many
  rows costs psycopg a parse of the statement's text each time (statements that long are
  not cached) and an executemany without RETURNING is one statement per row; COPY sends
  the rows as one stream. The new ids are reserved first from the table's sequence, with
  one ``nextval`` query, and written with the rows.

Only the columns named are written: Python-side column defaults are not applied (the
callers name every column they fill; the id is the database's).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, text

from crm.binds import assign_many, bind_name
from crm.extensions import db

CHUNK = 1000  # rows per executemany (engines other than SQLite and PostgreSQL)

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
    if connection.dialect.name == "sqlite":
        return _sqlite(connection, table, keys, rows, ids)
    return _executemany(table, keys, rows, ids)


def _converted(connection, columns, rows) -> Iterator[Sequence[Any]]:
    """The rows with each value as SQLAlchemy sends it to the driver (the column type's
    bind processor: JSON as text, datetimes as SQLite writes them...)."""
    dialect = connection.dialect
    convert = [
        (i, c.type.dialect_impl(dialect).bind_processor(dialect)) for i, c in enumerate(columns)
    ]
    convert = [(i, p) for i, p in convert if p is not None]
    if not convert:
        yield from rows
        return
    for row in rows:
        row = list(row)
        for i, process in convert:
            row[i] = process(row[i])
        yield row


def _sqlite(connection, table: Table, keys: Sequence[str], rows, ids: bool) -> list[int]:
    """The driver's executemany (one prepared statement, the rows bound in C). The rows
    of one executemany get consecutive rowids while this transaction holds the database
    (each row takes the highest rowid plus one): the ids are the last one and the ones
    before it. One count checks that all of them are there; if not, an error (the unit
    of work rolls the batch back: nothing is half written)."""
    columns = [table.c[k] for k in keys]
    prep = connection.dialect.identifier_preparer
    name = prep.format_table(table)
    names = ", ".join(prep.quote(c.name) for c in columns)  # quoted by the dialect
    marks = ", ".join("?" * len(columns))  # values bound
    # Safe: no value is in the text. The table and column names come from the Table
    # object (metadata keys, validated when the field was made) and are quoted by the
    # dialect's identifier preparer; the values are bound ("?").
    statement = f"INSERT INTO {name} ({names}) VALUES ({marks})"  # noqa: S608
    raw = connection.connection.driver_connection
    raw.executemany(statement, _converted(connection, columns, rows))
    if not ids:
        return []
    last = raw.execute("SELECT last_insert_rowid()").fetchone()[0]
    first = last - len(rows) + 1
    key = prep.quote(table.c.id.name)
    # Safe as above: quoted identifiers from the Table, bound values.
    check = f"SELECT count(*) FROM {name} WHERE {key} BETWEEN ? AND ?"  # noqa: S608
    if raw.execute(check, (first, last)).fetchone()[0] != len(rows):
        raise RuntimeError(f"The new rows of {table.name} did not get consecutive ids.")
    return list(range(first, last + 1))


def _executemany(table: Table, keys: Sequence[str], rows, ids: bool) -> list[int]:
    """SQLAlchemy Core executemany (other engines): multi-row INSERTs, RETURNING in the
    rows' order (``sort_by_parameter_order``)."""
    names = [bind_name(k) for k in keys]
    statement = insert(table).values(assign_many(table, keys))
    if ids:
        statement = statement.returning(table.c.id, sort_by_parameter_order=True)
    out: list[int] = []
    for start in range(0, len(rows), CHUNK):
        chunk = [dict(zip(names, row, strict=True)) for row in rows[start : start + CHUNK]]
        if ids:
            out += db.session.scalars(statement, chunk).all()
        else:
            db.session.execute(statement, chunk)
    return out


def _copy(connection, table: Table, keys: Sequence[str], rows, ids: bool) -> list[int]:
    dialect = connection.dialect
    columns = [table.c[k] for k in keys]
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
    # Safe: identifiers from the Table, quoted by the dialect; the values never enter the
    # statement (COPY's data stream, written row by row by psycopg).
    statement = (
        f"COPY {dialect.identifier_preparer.format_table(table)} ({head}{quoted}) FROM STDIN"
    )
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for n, row in enumerate(_converted(connection, columns, rows)):
            copy.write_row((new_ids[n], *row) if ids else row)
    return new_ids
