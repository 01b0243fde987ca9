"""Planner statistics: keep them, and say when they are missing or stale.

A query planner chooses between walking an index in order and reading then sorting rows
from what it knows of the data. SQLite knows nothing until ``ANALYZE`` writes
``sqlite_stat1`` (it never runs one by itself): without it a "department and below" list
took ~500 ms at 1,000,000 records instead of 0.5 ms. PostgreSQL's autovacuum analyzes
tables eventually, but not right after a bulk change.

- ``refresh_statistics(tables)``: analyze these tables now (SQLite: ``ANALYZE`` of each
  with a bounded sample, then ``PRAGMA optimize``; PostgreSQL: ``ANALYZE`` of each). The
  schema pipeline calls it after it creates an index or rebuilds a column; bulk changes of
  more than ``BULK_ROWS`` records call it (``after_bulk_change``), and so will imports.
- ``refresh_all()``: every entity table, for the scheduled ``flask --app app crm optimize``
  (run it from cron, e.g. nightly, until the job queue exists to run it).
- ``statistics_problems(connection, compiled)``: entity tables holding records whose
  statistics are missing or stale, for ``crm doctor``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

# A bulk change touching more records than this refreshes the table's statistics.
BULK_ROWS = 1000
# Rows SQLite's ANALYZE reads per index (``PRAGMA analysis_limit``): a sample, so that
# analyzing a table of millions of records takes milliseconds, not seconds.
SQLITE_ANALYSIS_LIMIT = 2000
# SQLite: statistics are stale when the table holds this many times more (or fewer) rows
# than they describe (the rule ``PRAGMA optimize`` itself uses: a power of ten).
SQLITE_STALE_FACTOR = 10
# PostgreSQL: stale when more rows changed since the last analyze than this share of the
# table (and at least STALE_MIN_CHANGES): autovacuum would have analyzed it long before.
PG_STALE_SHARE = 0.5
STALE_MIN_CHANGES = 1000


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def refresh_statistics(tables: Iterable[str], connection: Connection | None = None) -> list[str]:
    """Analyze ``tables`` (names of existing tables; others are skipped) on ``connection``
    (default: the session's, in its transaction; the caller commits). Returns the tables
    analyzed."""
    if connection is None:
        from crm.extensions import db

        connection = db.session.connection()
    existing = set(inspect(connection).get_table_names())
    done = [t for t in dict.fromkeys(tables) if t in existing]
    if not done:
        return []
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
        try:
            for table in done:
                connection.exec_driver_sql(f"ANALYZE {_quote(connection, table)}")
            connection.exec_driver_sql("PRAGMA optimize")
        finally:
            connection.exec_driver_sql("PRAGMA analysis_limit = 0")
    else:
        for table in done:
            connection.exec_driver_sql(f"ANALYZE {_quote(connection, table)}")
    return done


def after_bulk_change(table: str, rows: int) -> bool:
    """Refresh ``table``'s statistics when a committed bulk change touched more than
    ``BULK_ROWS`` records (its own transaction). Returns whether it did."""
    if rows <= BULK_ROWS:
        return False
    from crm.uow import unit_of_work

    with unit_of_work():
        refresh_statistics([table])
    return True


def _entity_tables(compiled: Any) -> list[str]:
    return sorted(spec.table_name for spec in compiled.entities.values())


def refresh_all(compiled: Any) -> list[str]:
    """Analyze every entity table of ``compiled`` (the scheduled optimize; the caller
    commits)."""
    return refresh_statistics(_entity_tables(compiled))


def statistics_problems(connection: Connection, compiled: Any) -> list[str]:
    """Entity tables holding records whose planner statistics are missing or stale, in
    words, one per table."""
    existing = set(inspect(connection).get_table_names())
    tables = [t for t in _entity_tables(compiled) if t in existing]
    if connection.dialect.name == "sqlite":
        any_stats = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).first()  # the inspector lists no sqlite_ table
        return _sqlite_problems(connection, tables, any_stats is not None)
    return _postgres_problems(connection, tables)


def _sqlite_problems(connection: Connection, tables: list[str], any_stats: bool) -> list[str]:
    problems = []
    for table in tables:
        quoted = _quote(connection, table)  # an entity table name, quoted
        rows = connection.exec_driver_sql(f"SELECT count(*) FROM {quoted}")  # noqa: S608
        count = int(rows.scalar() or 0)
        if not count:
            continue
        described = None
        if any_stats:
            stats = connection.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = ?", (table,)
            ).scalars()
            sizes = [int(s.split()[0]) for s in stats if s and s.split()[0].isdigit()]
            described = max(sizes) if sizes else None
        if described is None:
            problems.append(
                ngettext(
                    "%(table)s: %(num)d record but no planner statistics",
                    "%(table)s: %(num)d records but no planner statistics",
                    count,
                    table=table,
                )
            )
        elif abs(math.log10(count) - math.log10(max(described, 1))) >= math.log10(
            SQLITE_STALE_FACTOR
        ):
            problems.append(
                _(
                    "%(table)s: planner statistics describe %(described)d records, "
                    "it holds %(num)d",
                    table=table,
                    described=described,
                    num=count,
                )
            )
    return problems


def _postgres_problems(connection: Connection, tables: list[str]) -> list[str]:
    """Missing: records but no column statistics in ``pg_stats`` (catalog data, exact at
    once; ``pg_stat_user_tables``' last_analyze lags behind an ANALYZE by up to a second).
    Stale: ``n_mod_since_analyze`` beyond PG_STALE_SHARE of the live rows."""
    problems = []
    for table in tables:
        has_rows = connection.exec_driver_sql(
            f"SELECT EXISTS (SELECT 1 FROM {_quote(connection, table)})"  # noqa: S608
        ).scalar()
        if not has_rows:
            continue
        analyzed = connection.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = :t)"
            ),
            {"t": table},
        ).scalar()
        if not analyzed:
            problems.append(_("%(table)s: records but no planner statistics", table=table))
            continue
        found = connection.execute(
            text(
                "SELECT n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname = :t"
            ),
            {"t": table},
        ).first()
        if found is None:
            continue
        live, changed = int(found[0] or 0), int(found[1] or 0)
        if changed >= STALE_MIN_CHANGES and changed > PG_STALE_SHARE * live:
            problems.append(
                ngettext(
                    "%(table)s: %(num)d record changed since its planner statistics were made",
                    "%(table)s: %(num)d records changed since its planner statistics were made",
                    changed,
                    table=table,
                )
            )
    return problems
