"""The demo's processes (the B2B sales starter's): Deals in two pipelines, Leads in a
qualification pipeline, and a stage history spread over months that agrees with where each
record is now."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from sqlalchemy import select

from crm import demo
from crm.extensions import db
from crm.metadata import specs
from crm.pipelines.models import StageMove
from crm.pipelines.service import pipelines_of
from crm.records.query import table_of
from crm.timeutil import utcnow


def _history(entity_key: str) -> dict[int, list]:
    out: dict[int, list] = {}
    for m in db.session.scalars(
        select(StageMove)
        .where(StageMove.entity_key == entity_key)
        .order_by(StageMove.record_id, StageMove.at, StageMove.id)
    ):
        out.setdefault(m.record_id, []).append(m)
    return out


def test_demo_has_two_deal_pipelines_a_lead_pipeline_and_a_consistent_history(app, monkeypatch):
    monkeypatch.setattr(demo, "ACCOUNTS", 60)
    result = app.test_cli_runner().invoke(args=["crm", "demo"])
    assert result.exit_code == 0, result.output
    assert [p.key for p in pipelines_of("deal").active] == ["new_business", "renewal"]
    assert pipelines_of("deal").default.key == "new_business"
    assert [s.key for s in pipelines_of("deal").get("new_business").active_stages] == [
        "prospecting", "qualified", "proposal", "negotiation", "won", "lost",
    ]  # fmt: skip
    negotiation = pipelines_of("deal").get("new_business").stage("negotiation")
    assert negotiation.required_fields == ("amount", "close_date")
    qualification = pipelines_of("lead").get("qualification")
    assert [(s.key, s.category) for s in qualification.active_stages] == [
        ("new", "open"), ("contacted", "open"), ("qualified", "won"), ("disqualified", "lost"),
    ]  # fmt: skip
    assert qualification.stage("qualified").required_fields == ("company", "email")
    zh = specs.raw().localized("zh_Hans")
    assert zh.entity("lead").field("stage").choice("contacted").label == "已联系"
    assert specs.raw().localized("es").entity("deal").field("stage").choice("renewed").label == (
        "Renovada"
    )
    assert zh.entity("lead").field("lost_reason").choice("unreachable").label == "联系不上"

    now = utcnow()
    for entity_key in ("deal", "lead"):
        spec = specs.current().entity(entity_key)
        table = table_of(spec)
        rows = db.session.execute(
            select(table.c.id, table.c.pipeline, table.c.stage, table.c.created_at)
        ).all()
        history = _history(entity_key)
        assert set(history) == {r.id for r in rows}
        pipes = pipelines_of(entity_key)
        for r in rows:
            moves = history[r.id]
            assert pipes.get(r.pipeline).stage(r.stage) is not None
            assert moves[0].from_stage is None and moves[0].seconds_in_from is None
            assert moves[0].at == r.created_at
            assert moves[-1].to_stage == r.stage
            for before, after in pairwise(moves):
                assert after.from_stage == before.to_stage
                assert after.seconds_in_from == int((after.at - before.at).total_seconds())
            assert now - timedelta(days=301) <= moves[0].at <= moves[-1].at <= now
            if pipes.get(r.pipeline).stage(r.stage).lost:
                assert moves[-1].reason
    deals = _history("deal")
    assert max(len(m) for m in deals.values()) >= 5  # some went the whole way
    assert min(m[0].at for m in deals.values()) < now - timedelta(days=120)  # months back
    moved = {p for ms in deals.values() for p in {m.pipeline for m in ms}}
    assert moved == {"new_business", "renewal"}
