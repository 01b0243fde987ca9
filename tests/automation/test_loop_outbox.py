"""Loop protection (rules setting each other off stop at the depth limit, logged) and the
outbox guarantee (a job committed with the change but never dispatched runs once, from
the sweep, and never twice)."""

from __future__ import annotations

import time

from sqlalchemy import select

from crm.automation.events import MAX_DEPTH
from crm.extensions import db
from crm.jobs import queue, runner
from crm.jobs.models import Job
from tests.automation.conftest import deal, edit, row
from tests.automation.factory import make_rule, runs


def test_two_rules_setting_each_other_off_stop_and_say_so(people):
    a = make_rule(people["admin"], {"type": "changed", "field": "status", "to": "ping"}, [
        {"type": "set", "values": {"status": "pong"}}], name="A")  # fmt: skip
    b = make_rule(people["admin"], {"type": "changed", "field": "status", "to": "pong"}, [
        {"type": "set", "values": {"status": "ping"}}], name="B")  # fmt: skip
    rid = deal(people["ann"])
    edit(people["ann"], rid, status="ping")
    log = runs()
    assert [(r.rule_id, r.status) for r in log] == [
        (a, "done"), (b, "done"), (a, "done"), (b, "done"), (a, "loop"),
    ]  # fmt: skip
    assert len(log) == MAX_DEPTH + 2
    assert "Stopped" in log[-1].error
    assert row(rid)["status"] == "ping"  # B's last change stands; nothing spins on


def test_a_rule_changing_its_own_trigger_field_stops_too(people):
    rule = make_rule(people["admin"], {"type": "updated"}, [
        {"type": "set", "values": {"amount": "{n}"}}])  # fmt: skip
    # "{n}" does not parse as a number: the run fails, nothing loops
    rid = deal(people["ann"])
    edit(people["ann"], rid, title="x")
    (run,) = runs(rule)
    assert run.status == "failed"


class _Down:
    """A queue that is down: every dispatch fails."""

    def __init__(self, real):
        self.huey = real.huey

    def run_job(self, job_id):
        raise ConnectionError("queue down")


def test_a_job_committed_but_never_queued_runs_once_from_the_sweep(people, monkeypatch, app):
    rule = make_rule(people["admin"], {"type": "created"}, [
        {"type": "set", "values": {"note": "done"}}])  # fmt: skip
    real = queue.current()
    monkeypatch.setattr(queue, "current", lambda: _Down(real))
    rid = deal(people["ann"])  # the save commits; its job's dispatch fails
    db.session.rollback()
    (job,) = db.session.scalars(select(Job)).all()
    assert job.status == "queued"
    assert row(rid)["note"] is None and runs(rule) == []
    monkeypatch.setattr(queue, "current", lambda: real)
    later = time.time() + 3600
    assert runner.sweep(now=later) == [job.id]
    assert row(rid)["note"] == "done" and len(runs(rule)) == 1
    runner.sweep(now=later + 3600)  # the sweep again: nothing left to run
    db.session.rollback()
    assert db.session.get(Job, job.id).status == "done"
    assert len(runs(rule)) == 1
