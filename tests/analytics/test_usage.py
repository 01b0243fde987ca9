"""Usage recording: one counter row per person, day and area; one statement per request
at most; never a failed request because recording failed."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select

from crm.analytics import usage
from crm.analytics.models import UsageDay
from crm.extensions import db


@contextmanager
def statements():
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _rows():
    db.session.rollback()
    return [
        (r.entity_key, r.kind, r.detail, r.count)
        for r in db.session.scalars(select(UsageDay).order_by(UsageDay.kind, UsageDay.entity_key))
    ]


def test_each_page_adds_to_one_counter_per_area(world, login_as):
    client = login_as(world.rep)
    for _ in range(3):
        assert client.get("/r/deal/").status_code == 200
    assert client.get("/r/deal/board").status_code == 200
    assert client.get("/").status_code == 200
    assert client.hx_get("/home/block/tasks").status_code == 200  # a block: not counted
    assert client.get("/r/nosuch/").status_code == 404  # refused: not counted
    assert _rows() == [("deal", "board", "", 1), ("", "home", "", 1), ("deal", "list", "", 3)]


def test_recording_adds_exactly_one_statement_per_request(world, login_as, monkeypatch):
    """Measured: the same request with and without recording differs by one statement,
    the upsert (nothing is read to work out the area), in a transaction of its own."""
    client = login_as(world.rep)
    client.get("/r/deal/")  # warm caches (specs, rights)
    with statements() as on:
        client.get("/r/deal/?q=Deal")
    real = usage.record
    monkeypatch.setattr(usage, "record", lambda *a, **k: True)
    with statements() as off:
        client.get("/r/deal/?q=Deal")
    monkeypatch.setattr(usage, "record", real)
    upserts = [s for s in on if "usage_days" in s]
    # its own short transaction: SQLite's explicit BEGIN (crm.db) is not a query
    on, off = [s for s in on if s != "BEGIN"], [s for s in off if s != "BEGIN"]
    assert len(on) - len(off) == 1 == len(upserts)
    assert upserts[0].lstrip().upper().startswith("INSERT") and "ON CONFLICT" in upserts[0].upper()


def test_a_failing_recorder_never_fails_the_request(world, login_as, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("database went away")

    monkeypatch.setattr(usage, "upsert", broken)
    assert login_as(world.rep).get("/r/deal/").status_code == 200
    assert _rows() == []


def test_area_of_drops_malformed_details():
    assert usage.area_of("records.record_list", "GET", {"key": "deal"}, {"view": "12"}) == (
        "deal",
        "list",
        "view:12",
    )
    assert usage.area_of("records.record_list", "GET", {"key": "deal"}, {"view": "x' OR 1"}) == (
        "deal",
        "list",
        "",
    )
    assert usage.area_of("records.record_list", "POST", {"key": "deal"}, {}) is None
    assert usage.area_of("records.lookup", "GET", {"key": "deal"}, {}) is None
