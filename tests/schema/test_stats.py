"""Planner statistics: the schema pipeline refreshes them after an index is made, ``crm
optimize`` refreshes every entity table, and ``crm doctor`` says when they are missing or
stale (issue 12, item 7)."""

from __future__ import annotations

from sqlalchemy import event, text

from crm.extensions import db
from crm.metadata import specs
from crm.schema import service, stats
from tests.factories import insert_rows


def _deal(rows: int = 30) -> None:
    service.create_entity(
        "deal", "Deal", fields=[{"key": "title", "type": "text", "label": "Title"}]
    )
    insert_rows("deal", *({"title": f"Deal {i}"} for i in range(rows)))


def _problems() -> list[str]:
    db.session.rollback()
    found = stats.statistics_problems(db.session.connection(), specs.current())
    db.session.rollback()
    return found


def _forget_statistics() -> None:
    """Drop what ANALYZE wrote for x_deal, as a database never analyzed has none."""
    if db.session.get_bind().dialect.name == "sqlite":
        names = db.session.execute(
            text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).all()
        if names:
            db.session.execute(text("DELETE FROM sqlite_stat1 WHERE tbl = 'x_deal'"))
        db.session.commit()
        db.session.execute(text("ANALYZE sqlite_schema"))  # reload the planner's view
        db.session.commit()
    else:
        # Column statistics live in pg_statistic; only a superuser (the tests') edits it.
        db.session.execute(text("DELETE FROM pg_statistic WHERE starelid = 'x_deal'::regclass"))
        db.session.commit()


def test_doctor_reports_a_table_with_records_and_no_statistics(app):
    _deal()
    _forget_statistics()
    assert _problems() in (
        ["x_deal: 30 records but no planner statistics"],  # SQLite counts them
        ["x_deal: records but no planner statistics"],
    )
    runner = app.test_cli_runner()
    out = runner.invoke(args=["crm", "doctor"])
    assert out.exit_code == 0, out.output  # slow plans, not a broken schema
    assert "no planner statistics" in out.output and "crm optimize" in out.output

    done = runner.invoke(args=["crm", "optimize"])
    assert done.exit_code == 0, done.output
    assert "Planner statistics refreshed for 1 table." in done.output
    assert _problems() == []
    again = runner.invoke(args=["crm", "doctor"])
    assert "planner statistics" not in again.output.lower()


def test_an_empty_table_needs_no_statistics(app):
    service.create_entity("deal", "Deal")
    assert _problems() == []


def test_creating_an_index_refreshes_the_tables_statistics(app):
    _deal()
    _forget_statistics()
    assert _problems()
    seen: list[str] = []

    def grab(_conn, _cursor, statement, *_args):
        if statement.upper().startswith("ANALYZE"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        service.add_field("deal", "stage", "text", "Stage", options={"indexed": True})
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    assert any("x_deal" in s for s in seen), seen
    assert _problems() == []


def test_a_change_without_an_index_does_not_analyze(app):
    _deal()
    seen: list[str] = []

    def grab(_conn, _cursor, statement, *_args):
        if statement.upper().startswith("ANALYZE"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        service.update_entity("deal", label_singular="Opportunity")
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    assert seen == []


def test_sqlite_statistics_describing_far_fewer_rows_are_stale(app):
    _deal(rows=5)
    if db.session.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL counts changes since the last analyze: the next test
    stats.refresh_statistics(["x_deal"])
    db.session.commit()
    assert _problems() == []
    insert_rows("deal", *({"title": f"More {i}"} for i in range(60)))
    assert _problems() == ["x_deal: planner statistics describe 5 records, it holds 65"]


def test_postgres_statistics_with_many_changes_since_are_stale(app, monkeypatch):
    _deal(rows=5)
    if db.session.get_bind().dialect.name != "postgresql":
        return
    stats.refresh_statistics(["x_deal"])
    db.session.commit()
    monkeypatch.setattr(stats, "STALE_MIN_CHANGES", 10)
    insert_rows("deal", *({"title": f"More {i}"} for i in range(60)))
    db.session.execute(text("SELECT pg_stat_force_next_flush()"))
    db.session.commit()
    db.session.execute(text("SELECT pg_stat_clear_snapshot()"))
    found = _problems()
    # The activity counters are flushed in batches: the 5 rows before the ANALYZE may
    # still count as changed since it.
    (problem,) = found
    changed = int(problem.removeprefix("x_deal: ").split()[0])
    assert changed >= 60 and problem.endswith("changed since its planner statistics were made")


def test_bulk_changes_above_the_threshold_refresh_statistics(app, monkeypatch):
    _deal()
    _forget_statistics()
    assert stats.after_bulk_change("x_deal", stats.BULK_ROWS) is False
    assert _problems()
    assert stats.after_bulk_change("x_deal", stats.BULK_ROWS + 1) is True
    assert _problems() == []
