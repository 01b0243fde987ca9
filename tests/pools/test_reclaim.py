"""The reclaim sweep with a frozen clock: the warning M days before, the return after N
days without a follow-up activity, activities and claims resetting the clock, protected
records and owners outside the pool's audience left alone, and the timeline's words."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm.activities.models import Activity
from crm.extensions import db
from crm.metadata import specs
from crm.notifications.models import Notification
from crm.pools import reclaim, service
from crm.pools.models import PoolEntry
from crm.records import service as records
from crm.timeutil import utcnow
from tests.pools.conftest import account, freeze, make_pool, owner_of


def warnings_of(user) -> list[Notification]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(Notification).where(
                Notification.user_id == user.id, Notification.kind == "pool_warning"
            )
        )
    )


def test_warn_then_return_after_n_days_without_activity(people, monkeypatch):
    ann, wes = people["ann"], people["wes"]
    make_pool(
        people["admin"], no_activity_days="30", warn_days="5",
        claim_departments=[str(people["east"].id)],
    )  # fmt: skip
    start = utcnow()
    idle = account(ann, "Idle")
    busy = account(ann, "Busy")
    vip = account(ann, "VIP", vip="y")
    west = account(wes, "West")  # Wes is not in the pool's audience
    make_pool(people["admin"], key="other", protected_field="vip", no_activity_days="0")
    db.session.add(
        Activity(entity_key="account", record_id=busy, kind="call", subject="Called",
                 happened_at=start + timedelta(days=20))
    )  # fmt: skip
    db.session.commit()

    freeze(monkeypatch, start + timedelta(days=26))
    assert reclaim.sweep() == {"returned": 0, "warned": 2}  # idle and vip
    assert len(warnings_of(ann)) == 2
    assert "returns to the pool soon" in warnings_of(ann)[0].title
    assert reclaim.sweep() == {"returned": 0, "warned": 0}  # once per day of return

    freeze(monkeypatch, start + timedelta(days=31))
    done = reclaim.sweep()
    assert done["returned"] == 2  # idle and vip (the East pool does not protect)
    assert owner_of(idle) is None and owner_of(vip) is None
    assert owner_of(busy) == ann.id and owner_of(west) == wes.id
    entry = db.session.scalar(select(PoolEntry).where(PoolEntry.record_id == idle))
    assert entry.reason == "no_activity" and entry.previous_owner_id == ann.id
    spec = specs.current().entity("account")
    first = records.timeline(people["admin"], spec, idle)[0]
    assert first.kind == "pool_enter" and first.user_id is None
    assert first.body == "put this in East: no follow-up activity in time"

    freeze(monkeypatch, start + timedelta(days=51))
    assert reclaim.sweep()["returned"] == 1  # busy: 30 days after its call
    assert owner_of(busy) is None


def test_protected_records_never_return(people, monkeypatch):
    ann = people["ann"]
    make_pool(people["admin"], no_activity_days="10", protected_field="vip")
    start = utcnow()
    vip = account(ann, "VIP", vip="y")
    plain = account(ann, "Plain")
    freeze(monkeypatch, start + timedelta(days=40))
    assert reclaim.sweep()["returned"] == 1
    assert owner_of(vip) == ann.id and owner_of(plain) is None


def test_a_claim_restarts_the_clock(people, monkeypatch):
    ann, bob = people["ann"], people["bob"]
    make_pool(people["admin"], no_activity_days="10")
    start = utcnow()
    rec = account(ann)
    freeze(monkeypatch, start + timedelta(days=11))
    assert reclaim.sweep()["returned"] == 1
    service.claim(bob, specs.current().entity("account"), rec)
    assert reclaim.sweep()["returned"] == 0  # Bob just got it
    freeze(monkeypatch, start + timedelta(days=22))
    assert reclaim.sweep()["returned"] == 1
    assert owner_of(rec) is None


def test_sweep_without_rules_does_nothing(people, monkeypatch):
    make_pool(people["admin"])
    account(people["ann"])
    freeze(monkeypatch, utcnow() + timedelta(days=400))
    assert reclaim.sweep() == {"returned": 0, "warned": 0}


def test_stage_move_and_won_rules(people, monkeypatch):
    """ "No stage move" runs from the last move; "no won deal" only from a move into a
    won stage (stage moves written straight to their table: the rule reads only them)."""
    from crm.pipelines.models import PipelineRow, StageMove, StageRow

    ann = people["ann"]
    make_pool(people["admin"], key="moves", no_stage_move_days="10")
    start = utcnow()
    moved, still = account(ann, "Moved"), account(ann, "Still")
    pipeline = PipelineRow(entity_key="account", key="sales", name="Sales")
    db.session.add(pipeline)
    db.session.flush()
    db.session.add_all(
        [
            StageRow(pipeline_id=pipeline.id, entity_key="account", key="new", name="New"),
            StageRow(pipeline_id=pipeline.id, entity_key="account", key="won", name="Won",
                     category="won"),
            StageMove(entity_key="account", record_id=moved, pipeline="sales", to_stage="new",
                      at=start + timedelta(days=8)),
            StageMove(entity_key="account", record_id=still, pipeline="sales", to_stage="won",
                      at=start + timedelta(days=1)),
        ]
    )  # fmt: skip
    db.session.commit()
    freeze(monkeypatch, start + timedelta(days=12))
    assert reclaim.sweep()["returned"] == 1
    assert owner_of(still) is None and owner_of(moved) == ann.id


def test_no_won_rule_ignores_other_moves(people, monkeypatch):
    from crm.pipelines.models import PipelineRow, StageMove, StageRow

    ann = people["ann"]
    make_pool(people["admin"], key="wins", no_won_days="10")
    start = utcnow()
    won, busy = account(ann, "Won"), account(ann, "Busy")
    pipeline = PipelineRow(entity_key="account", key="sales", name="Sales")
    db.session.add(pipeline)
    db.session.flush()
    db.session.add_all(
        [
            StageRow(pipeline_id=pipeline.id, entity_key="account", key="new", name="New"),
            StageRow(pipeline_id=pipeline.id, entity_key="account", key="won", name="Won",
                     category="won"),
            StageMove(entity_key="account", record_id=won, pipeline="sales", to_stage="won",
                      at=start + timedelta(days=8)),
            StageMove(entity_key="account", record_id=busy, pipeline="sales", to_stage="new",
                      at=start + timedelta(days=9)),
        ]
    )  # fmt: skip
    db.session.commit()
    freeze(monkeypatch, start + timedelta(days=12))
    assert reclaim.sweep()["returned"] == 1
    assert owner_of(busy) is None and owner_of(won) == ann.id
    entry = db.session.scalar(select(PoolEntry).where(PoolEntry.record_id == busy))
    assert entry.reason == "no_won"


def test_the_reclaim_task_is_periodic(app):
    from datetime import datetime

    from crm.jobs import queue

    huey = queue.current().huey
    due = {t.name for t in huey.read_periodic(datetime(2026, 12, 5, 10, 7))}
    assert "atelier.reclaim_pools" in due  # hourly, at seven past
    assert "atelier.reclaim_pools" not in {
        t.name for t in huey.read_periodic(datetime(2026, 12, 5, 10, 8))
    }


def test_the_warning_is_in_the_owners_language(people, monkeypatch):
    """An owner who reads Chinese is warned in Chinese, the pool named in Chinese and the
    day written as Chinese readers write it; the sweep runs outside anyone's request."""
    ann = people["ann"]
    ann.locale = "zh_Hans"
    db.session.commit()
    make_pool(
        people["admin"], no_activity_days="30", warn_days="5",
        claim_departments=[str(people["east"].id)],
        translations={"zh_Hans": "华东公海"},
    )  # fmt: skip
    start = utcnow()
    account(ann, "Idle")
    freeze(monkeypatch, start + timedelta(days=26))
    assert reclaim.sweep()["warned"] == 1
    [warning] = warnings_of(ann)
    assert warning.title == "Idle 即将退回公海"
    due = (start + timedelta(days=30)).date()
    assert warning.body == f"如不跟进，将于 {due.year}年{due.month}月{due.day}日 退回华东公海。"
