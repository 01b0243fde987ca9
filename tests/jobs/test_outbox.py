"""The outbox: a job commits with the change that causes it, and is dispatched only after
that commit; a rolled-back change leaves no job and dispatches nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.jobs.models import DONE, Job
from crm.jobs.outbox import enqueue
from crm.uow import unit_of_work
from tests.jobs.conftest import note, notes


def jobs() -> list[Job]:
    rows = list(db.session.scalars(select(Job).order_by(Job.id)))
    return rows


def test_the_job_commits_with_the_change_and_runs_after_the_commit(app, admin, echo):
    with unit_of_work():
        note(admin.id, "change")
        job = enqueue("test.echo", {"say": "hi"}, user_id=admin.id)
        assert job.id is not None
        assert echo == []  # not dispatched before the commit
    assert echo == [{"say": "hi"}]  # dispatched (immediate mode: run) after it
    (row,) = jobs()
    assert notes("change") == 1
    row = db.session.get(Job, row.id)
    assert (row.status, row.attempts, row.created_by) == (DONE, 1, admin.id)
    assert row.result == {"echo": "hi"} and row.error is None
    assert row.started_at and row.finished_at and row.finished_at >= row.started_at
    assert notes("echo") == 1  # the handler's own write committed with its status


def test_a_rolled_back_change_leaves_no_job_and_dispatches_nothing(app, admin, echo):
    with pytest.raises(RuntimeError), unit_of_work():
        note(admin.id, "change")
        enqueue("test.echo", {"say": "never"}, user_id=admin.id)
        raise RuntimeError("the change fails")
    assert jobs() == [] and echo == [] and notes("change") == 0


def test_a_failed_inner_unit_takes_its_job_with_it(app, admin, echo):
    with unit_of_work():
        note(admin.id, "kept")
        with pytest.raises(RuntimeError), unit_of_work():
            enqueue("test.echo", {"say": "inner"})
            raise RuntimeError("the inner part fails")
        enqueue("test.echo", {"say": "outer"})
    assert echo == [{"say": "outer"}]
    assert [j.payload for j in jobs()] == [{"say": "outer"}]


def test_enqueue_needs_a_unit_of_work_and_a_known_kind(app, echo):
    with pytest.raises(RuntimeError):
        enqueue("test.echo", {})
    with pytest.raises(ValueError), unit_of_work():
        enqueue("no.such.kind", {})
    assert jobs() == []


def test_a_queue_that_is_down_leaves_the_row_queued_for_the_sweep(app, admin, echo, monkeypatch):
    from crm.jobs import queue

    def down(_job_id):
        raise ConnectionError("the queue is down")

    q = queue.current()
    monkeypatch.setitem(app.extensions, queue.EXTENSION, q.__class__(q.huey, down, q.sweep))
    with unit_of_work():
        note(admin.id, "change")
        enqueue("test.echo", {"say": "later"})
    (row,) = jobs()
    assert row.status == "queued" and echo == [] and notes("change") == 1


def test_a_job_with_a_delay_waits_for_the_sweep_after_its_time(app, admin, echo, monkeypatch):
    """``enqueue(delay=...)``: not dispatched at the commit, nor by a sweep before its
    ``run_after``; the first sweep after it runs it, once."""
    from datetime import UTC, datetime, timedelta

    from crm.jobs import outbox, runner

    start = datetime(2026, 3, 1, 12, 0)
    monkeypatch.setattr(outbox, "utcnow", lambda: start)
    with unit_of_work():
        enqueue("test.echo", {"say": "later"}, delay=timedelta(minutes=5))
    (row,) = jobs()
    assert (row.status, row.run_after, echo) == ("queued", start + timedelta(minutes=5), [])
    at = start.replace(tzinfo=UTC).timestamp()
    assert runner.sweep(now=at + 299) == [] and echo == []
    assert runner.sweep(now=at + 301) == [row.id] and echo == [{"say": "later"}]
    assert runner.sweep(now=at + 900) == [] and echo == [{"say": "later"}]
