"""Two pieces of background work writing to one SQLite file at the same moment wait in
turn: a transaction of a job takes the write lock when it begins. Without it, a job whose
transaction began by reading fails at once ("database is locked", no wait) as soon as
another committed meanwhile: the demo's first start showed it, two key rebuilds failing
each other."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from crm.db import configure_engine, writing_transactions


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'two-writers.db'}")
    configure_engine(engine, busy_timeout_ms=2000)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1, 0)"))
    yield engine
    engine.dispose()


def _read_then_write(engine, other_commits_between) -> None:
    with engine.connect() as first, first.begin():
        n = first.execute(text("SELECT n FROM t WHERE id = 1")).scalar_one()
        other_commits_between()
        first.execute(text("UPDATE t SET n = :n WHERE id = 1"), {"n": n + 1})


def _other_writer(engine):
    def commit() -> None:
        with engine.connect() as second:
            second.exec_driver_sql("PRAGMA busy_timeout=0")  # it must not wait for the first
            second.commit()
            with second.begin():
                second.execute(text("UPDATE t SET n = n + 10 WHERE id = 1"))

    return commit


def test_a_reader_turned_writer_fails_without_the_lock_taken_first(engine):
    """What SQLite does by itself: the snapshot is stale, the write fails at once."""
    with pytest.raises(OperationalError, match="locked"):
        _read_then_write(engine, _other_writer(engine))


def test_with_the_lock_taken_first_the_other_writer_waits_its_turn(engine):
    """In a job, the other writer cannot slip in between: it is refused while the first
    holds the lock (here it does not wait at all), and the first's write succeeds on
    what it read."""
    refused = []

    def other() -> None:
        try:
            _other_writer(engine)()
        except OperationalError as exc:
            refused.append(str(exc))

    with writing_transactions():
        _read_then_write(engine, other)
    assert refused and "locked" in refused[0]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalar_one() == 1
