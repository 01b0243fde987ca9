"""Pipelines as metadata and the rules every record write passes (gates, lost reasons,
probability, stage history)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.pipelines import service
from crm.pipelines.models import StageMove
from crm.pipelines.rules import GateBlocked
from crm.pipelines.service import StageInput
from crm.records import service as records
from crm.schema import service as schema
from crm.timeutil import utcnow
from tests.factories import make_record, stored
from tests.pipelines.factories import SALES, make_deal_entity, stages


def _moves(record_id: int) -> list[tuple]:
    db.session.rollback()
    return [
        (m.from_stage, m.to_stage, m.reason)
        for m in db.session.scalars(
            select(StageMove).where(StageMove.record_id == record_id).order_by(StageMove.id)
        )
    ]


def _deal():
    return specs.current().entity("deal")


def _save(user, record_id, values):
    row = stored("deal", record_id)
    return records.update_record(user, _deal(), record_id, values, expected_version=row["version"])


def test_first_pipeline_adds_its_fields_and_stage_choices(admin):
    make_deal_entity()
    deal = _deal()
    assert {f.key: f.type for f in deal.fields if f.key in ("pipeline", "stage")} == {
        "pipeline": "pipeline",
        "stage": "stage",
    }
    assert deal.field("probability").type == "percent"
    assert [c.key for c in deal.field("stage").choices] == [k for k, *_ in SALES]
    assert [c.key for c in deal.field("lost_reason").choices][:2] == ["price", "competitor"]


def test_a_new_record_starts_in_the_first_stage_with_its_probability(admin):
    make_deal_entity()
    rid = make_record(admin, "deal", {"title": "Big one"})
    row = stored("deal", rid)
    assert (row["pipeline"], row["stage"], row["probability"]) == ("sales", "new", Decimal(10))
    assert _moves(rid) == [(None, "new", None)]


def test_a_gate_names_exactly_the_missing_fields_and_changes_nothing(admin):
    make_deal_entity()
    rid = make_record(admin, "deal", {"title": "Big one"})
    with pytest.raises(GateBlocked) as info:
        _save(admin, rid, {"stage": "won", "amount": "500"})
    assert info.value.missing == ("close_date",)
    assert set(info.value.errors) == {"close_date"}
    row = stored("deal", rid)
    assert (row["stage"], row["amount"], row["version"]) == ("new", None, 1)
    _save(admin, rid, {"stage": "won", "amount": "500", "close_date": "2026-12-31"})
    row = stored("deal", rid)
    assert (row["stage"], row["probability"]) == ("won", Decimal(100))
    assert _moves(rid) == [(None, "new", None), ("new", "won", None)]


def test_a_lost_stage_asks_for_a_reason_and_keeps_it(admin):
    make_deal_entity()
    rid = make_record(admin, "deal", {"title": "Big one"})
    with pytest.raises(GateBlocked) as info:
        _save(admin, rid, {"stage": "lost"})
    assert info.value.missing == ("lost_reason",)
    _save(admin, rid, {"stage": "lost", "lost_reason": "price"})
    assert _moves(rid)[-1] == ("new", "lost", "price")
    _save(admin, rid, {"stage": "qualified"})  # reopened: no longer lost
    assert stored("deal", rid)["lost_reason"] is None


def test_a_stage_of_another_pipeline_is_refused(admin):
    make_deal_entity()
    service.save_pipeline("deal", "renewal", "Renewal", stages((("r_new", "Due", 50, "open", []),)))
    rid = make_record(admin, "deal", {"title": "Big one"})
    with pytest.raises(ValidationFailed) as info:
        _save(admin, rid, {"stage": "r_new"})
    assert "stage" in info.value.errors
    assert stored("deal", rid)["stage"] == "new"
    # Switching the pipeline without a stage starts at its first stage.
    _save(admin, rid, {"pipeline": "renewal"})
    row = stored("deal", rid)
    assert (row["pipeline"], row["stage"], row["probability"]) == ("renewal", "r_new", Decimal(50))


def test_probability_follows_the_stage_unless_overriding_is_allowed(admin):
    make_deal_entity()
    rid = make_record(admin, "deal", {"title": "Big one"})
    with pytest.raises(ValidationFailed) as info:
        _save(admin, rid, {"probability": "75"})
    assert "probability" in info.value.errors
    service.save_pipeline(
        "deal", "sales", "Sales", stages(), options={"probability_override": True}
    )
    _save(admin, rid, {"probability": "75"})
    assert stored("deal", rid)["probability"] == Decimal(75)


def test_time_in_the_stage_left_is_recorded(admin):
    make_deal_entity()
    rid = make_record(admin, "deal", {"title": "Big one"})
    db.session.execute(
        StageMove.__table__.update()
        .where(StageMove.record_id == rid)
        .values(at=utcnow() - timedelta(hours=5))
    )
    db.session.commit()
    _save(admin, rid, {"stage": "qualified"})
    seconds = db.session.scalars(
        select(StageMove.seconds_in_from).where(StageMove.to_stage == "qualified")
    ).one()
    assert 5 * 3600 <= seconds < 5 * 3600 + 60


def test_archiving_a_stage_with_records_asks_where_they_go_then_moves_them(admin):
    make_deal_entity()
    rid = make_record(admin, "deal", {"title": "Big one"})
    _save(admin, rid, {"stage": "qualified"})
    without = [s for s in stages() if s.key != "qualified"]
    with pytest.raises(ValidationFailed) as info:
        service.save_pipeline("deal", "sales", "Sales", without)
    assert "stages.qualified.move_to" in info.value.errors
    assert [c.key for c in _deal().field("stage").active_choices][1] == "qualified"
    with pytest.raises(ValidationFailed):
        service.save_pipeline("deal", "sales", "Sales", without, move_to={"qualified": "nope"})
    service.save_pipeline("deal", "sales", "Sales", without, move_to={"qualified": "new"})
    row = stored("deal", rid)
    assert (row["stage"], row["version"]) == ("new", 3)
    assert _moves(rid)[-1] == ("qualified", "new", None)
    assert "qualified" not in [c.key for c in _deal().field("stage").active_choices]


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        (StageInput(key="Bad Key", name="x"), "stages.0.key"),
        (StageInput(key="ok", name=""), "stages.0.name"),
        (StageInput(key="ok", name="x", probability=140), "stages.0.probability"),
        (StageInput(key="ok", name="x", category="maybe"), "stages.0.category"),
        (StageInput(key="ok", name="x", color="#ff0000"), "stages.0.color"),
        (StageInput(key="ok", name="x", stale_days=0), "stages.0.stale_days"),
        (StageInput(key="ok", name="x", required_fields=["nope"]), "stages.0.required_fields"),
        (StageInput(key="ok", name="x", translations={"name": {"xx": "?"}}), "stages.0.name"),
    ],
)
def test_bad_stages_are_refused_with_every_problem_and_nothing_changes(admin, bad, where):
    make_deal_entity()
    version = specs.read_version()
    with pytest.raises(ValidationFailed) as info:
        service.save_pipeline("deal", "other", "Other", [bad])
    assert where in info.value.errors
    assert specs.read_version() == version
    assert "other" not in [p.key for p in specs.current().pipelines["deal"].pipelines]


def test_managed_fields_cannot_be_changed_outside_the_pipelines(admin):
    make_deal_entity()
    with pytest.raises(ValidationFailed) as info:
        schema.archive_field("deal", "stage")
    assert "deal.stage" in info.value.errors
    with pytest.raises(ValidationFailed):
        schema.add_field("deal", "phase", "stage", "Phase")
    with pytest.raises(ValidationFailed):
        schema.update_field("deal", "stage", choices=[{"key": "x", "label": "X"}])


def test_stage_labels_are_translated_like_picklists(admin, app):
    make_deal_entity()
    service.save_pipeline(
        "deal",
        "sales",
        "Sales",
        [
            StageInput(key="new", name="New", translations={"name": {"zh_Hans": "新建"}}),
            *stages()[1:],
        ],
    )
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert specs.current().entity("deal").field("stage").choice("new").label == "新建"


def test_a_gate_naming_a_field_archived_later_no_longer_holds_moves_back(admin):
    """Archiving a field that a stage requires takes it out of the gate (nobody could
    fill it any more); the editor refuses archived fields in new gates."""
    make_deal_entity()
    rid = make_record(admin, "deal", {"title": "Big one", "amount": "10"})
    schema.archive_field("deal", "close_date")
    _save(admin, rid, {"stage": "won"})
    assert stored("deal", rid)["stage"] == "won"
    with pytest.raises(ValidationFailed) as info:
        service.save_pipeline(
            "deal",
            "sales",
            "Sales",
            [*stages()[:3], StageInput(key="won", name="Won", required_fields=["close_date"])],
        )
    assert "stages.3.required_fields" in info.value.errors


def test_the_probability_is_not_an_input_while_it_follows_the_stage(admin, login_as):
    make_deal_entity()
    rid = make_record(admin, "deal", {"title": "Big one"})
    c = login_as(admin)
    form = c.get(f"/r/deal/{rid}/edit").data.decode()
    assert 'name="amount"' in form and 'name="probability"' not in form
    service.save_pipeline(
        "deal", "sales", "Sales", stages(), options={"probability_override": True}
    )
    form = c.get(f"/r/deal/{rid}/edit").data.decode()
    assert 'name="probability"' in form
