"""Checks behind the search benchmark's figures (issue 13): that the timed quick-search paths
answer what a plain substring scan answers, and which plan each uses.

- ``substring_ids``: the records whose searchable fields contain a term, found by a scan
  that no search index can serve (PostgreSQL: index and bitmap scans switched off for the
  statement's transaction; SQLite: ``LIKE '%term%'`` on the record table, which has no
  index for it), in the list's order. The timed paths must agree with it exactly.
- ``captured``: the statements a call sends (SQLAlchemy's cursor events), so their plans are
  those of the real path (the SQLite common-term probe included), not of a re-written query.
- ``plan``: EXPLAIN QUERY PLAN (SQLite) / EXPLAIN (ANALYZE, BUFFERS) (PostgreSQL) of one
  captured statement, with what the benchmark reports: whether the gram or trigram index
  is used and whether the record table is scanned whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, false, or_, text

from crm.extensions import db
from crm.metadata import types
from crm.records import listing
from crm.schema import search


def substring_ids(spec, table, q: str, sort: list[tuple[str, str]]) -> list[int]:
    """Ids of live records whose searchable fields contain ``q`` (the quick search's
    ``contains`` test, case-insensitive), by a scan, in the order ``sort`` (+ id)."""
    dialect = db.session.get_bind().dialect.name
    cond = or_(
        false(),
        *(
            types.build_filter(f, table.c[f.key], "contains", q, dialect_name=dialect)
            for f in search.search_fields(spec)
        ),
    )
    sort_cols = [table.c[k] for k, _ in sort] + [table.c.id]
    directions = [d for _, d in sort] + [sort[-1][1] if sort else "desc"]
    query = (
        table.select()
        .with_only_columns(table.c.id)
        .where(cond, table.c.deleted_at.is_(None))
        .order_by(*listing._order_by(sort_cols, directions))
    )
    with db.engine.connect() as conn:
        if dialect == "postgresql":  # only for this transaction, rolled back below
            conn.execute(text("SET LOCAL enable_indexscan = off"))
            conn.execute(text("SET LOCAL enable_bitmapscan = off"))
            conn.execute(text("SET LOCAL enable_indexonlyscan = off"))
        ids = [row[0] for row in conn.execute(query)]
        conn.rollback()
    return ids


@contextmanager
def captured() -> Iterator[list[tuple[str, object]]]:
    """The (statement, parameters) sent to the database inside the block."""
    seen: list[tuple[str, object]] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)


def plan(statement: str, parameters, table_name: str) -> dict:
    """The plan of one statement and what it says about index use on ``table_name``."""
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        lines = [r[-1] for r in rows]
        text_ = "\n".join(lines)
        whole = re.compile(rf"^SCAN {re.escape(table_name)}$")
        return {
            "plan": lines,
            "gram_index": f"{table_name}__fts_cjk" in text_,
            "trigram_index": f"SCAN {table_name}__fts " in text_ + " ",
            "table_scan": any(whole.match(line) for line in lines),
            "walks_sort_index": any(line.startswith(f"SCAN {table_name} USING") for line in lines),
        }
    rows = conn.exec_driver_sql(
        "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + statement, parameters
    ).all()
    lines = [r[0] for r in rows]
    text_ = "\n".join(lines)
    executed = re.search(r"Execution Time: ([0-9.]+) ms", text_)
    return {
        "plan": lines,
        "gram_index": "_cjk" in text_,
        "trigram_index": "_trgm" in text_,
        "table_scan": f"Seq Scan on {table_name}" in text_,
        "walks_sort_index": bool(
            re.search(rf"Index (Only )?Scan (Backward )?using \S+ on {table_name}", text_)
        ),
        "execution_ms": float(executed.group(1)) if executed else None,
    }
