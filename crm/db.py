"""Engine set-up per dialect.

SQLite: Python's ``sqlite3`` driver does not begin a transaction before DDL, so an
``ALTER TABLE`` would survive a rollback. Following SQLAlchemy's SQLite dialect docs
("Serializable isolation / Savepoints / Transactional DDL"), we switch the driver's own
transaction handling off and emit ``BEGIN`` ourselves when SQLAlchemy begins. Foreign keys
are switched on, and WAL lets readers work while a writer writes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine

_local = threading.local()


@contextmanager
def writing_transactions() -> Iterator[None]:
    """On SQLite, every transaction this thread begins inside the block takes the write lock
    at its start (``BEGIN IMMEDIATE``), waiting up to the busy timeout for another writer.

    For work that writes (a job of the queue): a transaction that began as a reader cannot
    become a writer once another connection has committed since its first read (SQLite
    then fails at once, without waiting: "database is locked"), so two jobs writing at
    the same moment would fail each other. Taking the lock first makes them wait in turn.
    PostgreSQL is unaffected (its row locks wait)."""
    before = getattr(_local, "immediate", False)
    _local.immediate = True
    try:
        yield
    finally:
        _local.immediate = before


def configure_engine(engine: Engine, *, busy_timeout_ms: int = 5000) -> None:
    """Attach the per-dialect connection hooks to ``engine`` (idempotent per engine).

    ``busy_timeout_ms``: how long an SQLite writer waits for another writer before the
    change fails cleanly (PostgreSQL's counterpart is the schema service's lock_timeout).
    """
    if engine.dialect.name != "sqlite" or getattr(engine, "_atelier_configured", False):
        return
    engine._atelier_configured = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - driver callback
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # PRAGMA takes no bind parameters; the value is forced to an int.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # pragma: no cover - driver callback
        immediate = getattr(_local, "immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def discard_session() -> None:
    """Roll back what the current request's session began: a request that failed keeps
    nothing, and the error page's own reads start afresh. Raises what the rollback raises
    (a connection lost mid-request)."""
    from crm.extensions import db

    db.session.rollback()
