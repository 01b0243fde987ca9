"""Bulk edit of the stage passes every record through the gate: records missing what the
stage needs are named with the reason, the others move with their probability and one
stage-history row each."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.pipelines import service
from crm.pipelines.models import StageMove
from crm.records.models import RecordHistory
from tests.factories import make_record, stored
from tests.pipelines.factories import make_deal_entity, stages


@pytest.fixture
def c(login_as, admin):
    make_deal_entity()
    return login_as(admin)


def _moves(record_id: int) -> list[tuple]:
    db.session.rollback()
    return [
        (m.from_stage, m.to_stage, m.seconds_in_from is not None)
        for m in db.session.scalars(
            select(StageMove).where(StageMove.record_id == record_id).order_by(StageMove.id)
        )
    ]


def _bulk(c, ids, stage):
    return c.hx_post(
        "/r/deal/bulk/edit",
        {"pick": [f"{i}:1" for i in ids], "field": "stage", "value_for": "stage", "stage": stage},
    )


def test_bulk_stage_moves_the_ready_and_names_the_blocked(c, admin):
    ready = make_record(admin, "deal", {"title": "Ready", "amount": "900"})
    bare = make_record(admin, "deal", {"title": "Bare"})
    r = _bulk(c, [ready, bare], "proposal")
    body = r.data.decode()
    assert r.status_code == 200
    assert "Not changed: needs Amount" in body and "Bare" in body
    row = stored("deal", ready)
    assert (row["stage"], row["probability"], row["version"]) == ("proposal", Decimal(60), 2)
    assert _moves(ready) == [(None, "new", False), ("new", "proposal", True)]
    history = db.session.scalars(
        select(RecordHistory).where(RecordHistory.record_id == ready).order_by(RecordHistory.id)
    ).all()
    assert history[-1].changes == {"stage": ["new", "proposal"], "probability": ["10", "60"]}
    blocked = stored("deal", bare)
    assert (blocked["stage"], blocked["version"]) == ("new", 1)
    assert _moves(bare) == [(None, "new", False)]


def test_bulk_stage_names_every_missing_field(c, admin):
    half = make_record(admin, "deal", {"title": "Half", "amount": "10"})
    r = _bulk(c, [half], "won")
    assert "Not changed: needs Close date" in r.data.decode()
    none = make_record(admin, "deal", {"title": "None"})
    r = _bulk(c, [none], "won")
    assert "Not changed: needs Amount, Close date" in r.data.decode()
    assert stored("deal", half)["stage"] == "new" and stored("deal", none)["stage"] == "new"


def test_a_stage_of_another_pipeline_blocks_the_record(c, admin):
    service.save_pipeline(
        "deal", "renewal", "Renewal",
        stages((("due", "Due", 70, "open", []), ("renewed", "Renewed", 100, "won", []))),
    )  # fmt: skip
    deal = make_record(admin, "deal", {"title": "Sales deal"})
    renewal = make_record(admin, "deal", {"title": "Renewal deal", "pipeline": "renewal"})
    r = _bulk(c, [deal, renewal], "renewed")
    body = r.data.decode()
    assert "Not changed:" in body and "is not a stage of the pipeline" in body
    assert stored("deal", deal)["stage"] == "new"
    assert stored("deal", renewal)["stage"] == "renewed"
    assert _moves(deal) == [(None, "new", False)]


def test_a_lost_stage_in_bulk_needs_a_reason(c, admin):
    with_reason = make_record(admin, "deal", {"title": "A"})
    without = make_record(admin, "deal", {"title": "B"})
    from crm.metadata import specs
    from crm.records import service as records

    records.update_record(
        admin, specs.current().entity("deal"), with_reason, {"lost_reason": "price"},
        expected_version=1,
    )  # fmt: skip
    r = c.hx_post(
        "/r/deal/bulk/edit",
        {"pick": [f"{with_reason}:2", f"{without}:1"], "field": "stage", "value_for": "stage",
         "stage": "lost"},
    )  # fmt: skip
    assert "Not changed: needs Lost reason" in r.data.decode()
    assert stored("deal", with_reason)["stage"] == "lost"
    assert stored("deal", without)["stage"] == "new"
    db.session.rollback()
    last = db.session.scalars(
        select(StageMove).where(StageMove.record_id == with_reason).order_by(StageMove.id.desc())
    ).first()
    assert (last.to_stage, last.reason) == ("lost", "price")
