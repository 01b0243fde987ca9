"""Scheduled rules with a frozen clock (``tick(now)``): yearly dates across a year end and
on 29 February, "no activity for N days" reset by an activity, "in stage for N days",
once per occasion, in batches, with the owner's rights and the rule's conditions."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from crm.activities import service as activities
from crm.automation import schedule
from crm.automation.events import BATCH_KIND
from crm.automation.models import RuleFiring
from crm.extensions import db
from crm.jobs.models import Job
from crm.metadata import specs
from crm.pipelines.models import StageMove
from crm.timeutil import utcnow
from tests.automation.conftest import deal, edit, row
from tests.automation.factory import make_rule, runs

NOTE = [{"type": "set", "values": {"note": "due"}}]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def fired(rule_id: int) -> list[int]:
    return sorted(r.record_id for r in runs(rule_id) if r.status == "done")


def backdate(record_id: int, when: datetime) -> None:
    table = specs.current().table("deal")
    db.session.execute(update(table).where(table.c.id == record_id).values(created_at=when))
    db.session.commit()


def test_seven_days_before_a_birthday_across_the_year_end(people):
    rule = make_rule(people["admin"], {"type": "date", "field": "birthday",
                                       "offset_days": -7, "yearly": True}, NOTE)  # fmt: skip
    jan2 = deal(people["ann"], birthday="1990-01-02")
    jan3 = deal(people["ann"], birthday="1985-01-03")
    schedule.tick(at("2026-12-25T12:00"))
    assert fired(rule) == []
    schedule.tick(at("2026-12-26T08:00"))
    assert fired(rule) == [jan2]
    schedule.tick(at("2026-12-26T18:00"))  # again the same day: not twice
    assert fired(rule) == [jan2]
    schedule.tick(at("2026-12-27T08:00"))
    assert fired(rule) == [jan2, jan3]
    assert row(jan2)["note"] == "due"
    schedule.tick(at("2027-12-26T08:00"))  # next year: fires again
    assert fired(rule) == [jan2, jan2, jan3]


def test_a_29_february_date_falls_on_28_february_in_other_years(people):
    rule = make_rule(people["admin"], {"type": "date", "field": "birthday",
                                       "yearly": True}, NOTE)  # fmt: skip
    leapling = deal(people["ann"], birthday="2000-02-29")
    schedule.tick(at("2027-02-27T10:00"))
    assert fired(rule) == []
    schedule.tick(at("2027-02-28T10:00"))
    assert fired(rule) == [leapling]
    schedule.tick(at("2028-02-28T10:00"))  # a leap year: its own day comes
    assert fired(rule) == [leapling]
    schedule.tick(at("2028-02-29T10:00"))
    assert fired(rule) == [leapling, leapling]


def test_a_date_once_not_yearly_and_not_before_the_first_occurrence(people):
    once = make_rule(people["admin"], {"type": "date", "field": "birthday"}, NOTE)
    yearly = make_rule(people["admin"], {"type": "date", "field": "birthday", "yearly": True},
                       [{"type": "set", "values": {"status": "y"}}])  # fmt: skip
    rid = deal(people["ann"], birthday="2027-03-10")
    schedule.tick(at("2026-03-10T10:00"))  # a year before the date itself: not yet
    assert fired(once) == [] and fired(yearly) == []
    schedule.tick(at("2027-03-10T10:00"))
    assert fired(once) == [rid] and fired(yearly) == [rid]
    schedule.tick(at("2028-03-10T10:00"))
    assert fired(once) == [rid] and fired(yearly) == [rid, rid]


def test_no_activity_for_30_days_is_reset_by_a_new_activity(people):
    rule = make_rule(people["admin"], {"type": "held", "what": "no_activity", "days": 30}, NOTE)
    now = utcnow()
    quiet = deal(people["ann"], title="Quiet")
    called = deal(people["ann"], title="Called")
    fresh = deal(people["ann"], title="Fresh")
    backdate(quiet, now - timedelta(days=40))
    backdate(called, now - timedelta(days=40))
    spec = specs.current().entity("deal")
    activities.log_activity(people["ann"], spec, called, kind="call", subject="Hi",
                            happened_at=now - timedelta(days=10))  # fmt: skip
    schedule.tick(now)
    assert fired(rule) == [quiet]
    schedule.tick(now + timedelta(minutes=5))
    assert fired(rule) == [quiet]  # one stretch, one firing
    # a call on the quiet one starts a new stretch: 30 days later it fires again
    activities.log_activity(people["ann"], spec, quiet, kind="call", subject="Back",
                            happened_at=now - timedelta(days=1))  # fmt: skip
    schedule.tick(now + timedelta(days=20))
    assert fired(rule) == [quiet, called]  # "called" reached its 30 days meanwhile
    schedule.tick(now + timedelta(days=31))
    assert fired(rule) == sorted([quiet, quiet, called, fresh])


def test_in_a_stage_for_14_days(people):
    rule = make_rule(people["admin"], {"type": "held", "what": "in_stage", "field": "stage",
                                       "stage": "proposal", "days": 14}, NOTE)  # fmt: skip
    now = utcnow()
    old, recent, elsewhere = (deal(people["ann"], title=t) for t in ("Old", "Recent", "Else"))
    for rid in (old, recent):
        edit(people["ann"], rid, stage="proposal")
    edit(people["ann"], elsewhere, stage="won")
    for rid, days in ((old, 15), (recent, 3), (elsewhere, 30)):
        db.session.execute(update(StageMove).where(StageMove.record_id == rid).values(
            at=now - timedelta(days=days)))  # fmt: skip
        backdate(rid, now - timedelta(days=60))
    schedule.tick(now)
    assert fired(rule) == [old]
    schedule.tick(now + timedelta(days=12))
    assert fired(rule) == [old, recent]


def test_conditions_and_the_owners_rights_narrow_a_scheduled_rule(people):
    rule = make_rule(
        people["own"], {"type": "held", "what": "no_activity", "days": 1},
        [{"type": "set", "values": {"status": "stale"}}],
        conditions=[{"field": "title", "op": "contains", "value": "hot"}],
    )  # fmt: skip
    now = utcnow()
    mine_hot = deal(people["own"], title="hot lead")
    mine_cold = deal(people["own"], title="cold lead")
    theirs_hot = deal(people["ann"], title="hot too")
    for rid in (mine_hot, mine_cold, theirs_hot):
        backdate(rid, now - timedelta(days=5))
    schedule.tick(now)
    assert fired(rule) == [mine_hot]
    assert row(theirs_hot)["status"] is None


def test_many_matches_are_processed_in_batches(people, monkeypatch):
    monkeypatch.setattr(schedule, "BATCH", 2)
    rule = make_rule(people["admin"], {"type": "held", "what": "no_activity", "days": 1}, NOTE)
    now = utcnow()
    ids = [deal(people["ann"], title=f"D{i}") for i in range(5)]
    for rid in ids:
        backdate(rid, now - timedelta(days=3))
    assert schedule.tick(now) == {"rule_" + rule_key(rule): 5}
    db.session.rollback()
    batches = db.session.scalars(select(Job).where(Job.kind == BATCH_KIND)).all()
    assert [len(j.payload["ids"]) for j in batches] == [2, 2, 1]
    assert all(j.status == "done" for j in batches)
    assert fired(rule) == ids
    count = db.session.scalar(select(func.count()).select_from(RuleFiring))
    assert count == 5


def test_a_large_backlog_drains_over_several_runs_never_twice(people, monkeypatch):
    monkeypatch.setattr(schedule, "MAX_FIRED_PER_RUN", 2)
    rule = make_rule(people["admin"], {"type": "held", "what": "no_activity", "days": 1}, NOTE)
    now = utcnow()
    ids = [deal(people["ann"], title=f"D{i}") for i in range(5)]
    for rid in ids:
        backdate(rid, now - timedelta(days=3))
    key = "rule_" + rule_key(rule)
    counts = [schedule.tick(now + timedelta(minutes=5 * n))[key] for n in range(4)]
    assert counts == [2, 2, 1, 0]
    assert fired(rule) == ids


def rule_key(rule_id: int) -> str:
    from crm.automation.models import AutomationRule

    return db.session.get(AutomationRule, rule_id).key.removeprefix("rule_")


def test_the_schedule_is_a_periodic_task_of_the_queue(app):
    from crm.jobs import queue, registry

    (entry,) = [p for p in registry.PERIODIC if p[0] == "atelier.automation_schedule"]
    assert registry.periodic_function(entry[2]) is schedule.tick
    names = {type(t).__name__ for t in queue.current().huey._registry.periodic_tasks}
    assert "atelier.automation_schedule" in names
