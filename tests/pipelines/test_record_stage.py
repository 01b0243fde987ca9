"""A record's stage on its page: the stage path with the time spent in each stage, moves
told in words in the timeline, the gate form, inline edit and form saves that a gate
blocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm.extensions import db
from crm.pipelines.models import StageMove
from tests.factories import make_record, stored
from tests.pipelines.factories import make_deal_entity


@pytest.fixture
def c(login_as, admin):
    make_deal_entity()
    return login_as(admin)


def _age_moves(record_id: int, days: list[float]) -> None:
    """Date the record's moves ``days`` ago (oldest first), with consistent seconds."""
    from crm.timeutil import utcnow

    db.session.rollback()
    moves = db.session.scalars(
        select(StageMove).where(StageMove.record_id == record_id).order_by(StageMove.id)
    ).all()
    now = utcnow()
    previous = None
    for m, ago in zip(moves, days, strict=True):
        at = now - timedelta(days=ago)
        db.session.execute(
            update(StageMove)
            .where(StageMove.id == m.id)
            .values(
                at=at, seconds_in_from=int((at - previous).total_seconds()) if previous else None
            )
        )
        previous = at
    db.session.commit()


def _move(c, rid, stage, version, **values):
    gate = list(values)
    return c.submit(
        f"/r/deal/{rid}/stage", {"stage": stage, "version": str(version), "gate": gate, **values}
    )


def test_the_record_page_shows_the_path_with_time_in_each_stage(c, admin):
    rid = make_record(admin, "deal", {"title": "Path", "amount": "100"})
    r = _move(c, rid, "qualified", 1)
    assert r.status_code in (302, 303)
    r = _move(c, rid, "proposal", 2)
    _age_moves(rid, [12, 9, 2])  # 3 days in New, 7 in Qualified, 2 so far in Proposal
    html = c.get(f"/r/deal/{rid}").data.decode()
    assert 'class="stage-path card"' in html
    assert html.index(">New<") < html.index(">Qualified<") < html.index(">Proposal<")
    assert "stage-step stage-done stage-cat-open" in html
    assert 'stage-current stage-cat-open c-gray" aria-current="step"' in html
    assert ">3 days<" in html and ">1 week<" in html and ">2 days<" in html
    assert html.count("stage-ahead") == 2  # Won, Lost
    # the timeline tells the moves in words
    assert "Started in New" in html
    assert "Moved from New to Qualified" in html and "Moved from Qualified to Proposal" in html


def test_times_read_in_the_readers_language(c, admin, app):
    from crm.access.models import User

    rid = make_record(admin, "deal", {"title": "Zeit"})
    _age_moves(rid, [3])
    db.session.execute(update(User).where(User.id == admin.id).values(locale="es"))
    db.session.commit()
    html = c.get(f"/r/deal/{rid}").data.decode()
    assert ">3 días<" in html


def test_a_lost_move_reads_with_its_reason(c, admin):
    rid = make_record(admin, "deal", {"title": "Gone"})
    r = _move(c, rid, "lost", 1, lost_reason="price")
    assert r.status_code in (302, 303), r.data.decode()
    assert stored("deal", rid)["stage"] == "lost"
    html = c.get(f"/r/deal/{rid}").data.decode()
    assert "Lost: Price" in html
    assert "stage-current stage-cat-lost" in html and "stage-skipped" in html


def test_a_gated_move_asks_for_exactly_the_missing_fields(c, admin):
    rid = make_record(admin, "deal", {"title": "Gated", "amount": "5"})
    r = _move(c, rid, "won", 1)
    html = r.data.decode()
    assert r.status_code == 200 and 'id="gate-form"' in html
    assert 'name="close_date"' in html and 'name="amount"' not in html
    assert 'name="title"' not in html
    assert stored("deal", rid)["stage"] == "new"
    bad = _move(c, rid, "won", 1, close_date="not a date")
    assert bad.status_code == 400 and 'id="gate-form"' in bad.data.decode()
    assert stored("deal", rid)["stage"] == "new"
    ok = _move(c, rid, "won", 1, close_date="2026-12-31")
    assert ok.status_code in (302, 303)
    row = stored("deal", rid)
    assert (row["stage"], str(row["close_date"])) == ("won", "2026-12-31")


def test_a_move_on_a_stale_version_changes_nothing(c, admin):
    rid = make_record(admin, "deal", {"title": "Race"})
    assert _move(c, rid, "qualified", 1).status_code in (302, 303)
    r = _move(c, rid, "new", 1)  # the page was opened at version 1
    assert r.status_code in (302, 303)
    assert stored("deal", rid)["stage"] == "qualified"
    page = c.get(f"/r/deal/{rid}").data.decode()
    assert "Someone else saved this record" in page


def test_a_stage_of_no_pipeline_is_refused_with_a_message(c, admin):
    rid = make_record(admin, "deal", {"title": "Bad"})
    r = _move(c, rid, "nonsense", 1)
    assert r.status_code in (302, 303)
    assert stored("deal", rid)["stage"] == "new"
    assert c.get(f"/r/deal/{rid}").status_code == 200


def test_inline_stage_edit_names_the_missing_fields_and_links_the_gate_form(c, admin):
    rid = make_record(admin, "deal", {"title": "Inline"})
    r = c.hx_post(f"/r/deal/{rid}/field/stage", {"stage": "won", "version": "1", "seen": ""})
    body = r.data.decode()
    assert r.status_code == 400 and "<html" not in body
    assert "“Won” needs Amount, Close date first." in body
    assert f"/r/deal/{rid}/stage?stage=won&amp;version=1" in body
    assert stored("deal", rid)["stage"] == "new"
    gate = c.get(f"/r/deal/{rid}/stage?stage=won&version=1").data.decode()
    assert 'name="amount"' in gate and 'name="close_date"' in gate


def test_the_edit_form_shows_gate_errors_by_field_and_when_the_field_is_off_the_layout(c, admin):
    from crm.metadata import layouts

    rid = make_record(admin, "deal", {"title": "Form"})
    r = c.submit(f"/r/deal/{rid}/edit", {"title": "Form", "stage": "won", "version": "1"})
    html = r.data.decode()
    assert r.status_code == 400
    assert html.count("Required to enter the stage “Won”.") == 2  # by Amount and Close date
    layouts.save_layout(
        "deal", "form", {"sections": [{"title": "Main", "columns": 1,
                                        "fields": [["title", "stage", "amount"]]}]},
        actor_id=admin.id,
    )  # fmt: skip
    r = c.submit(
        f"/r/deal/{rid}/edit", {"title": "Form", "stage": "won", "amount": "9", "version": "1"}
    )
    html = r.data.decode()
    assert r.status_code == 400
    assert "Required to enter the stage “Won”." in html  # close date: not on the form
    assert stored("deal", rid)["stage"] == "new"


def test_a_move_is_told_once_in_the_timeline(c, admin):
    """The move's own entry tells it in words; the update that made it does not repeat
    the stage (other values saved with it still show)."""
    from crm.metadata import specs
    from crm.records import service as records

    rid = make_record(admin, "deal", {"title": "Once"})
    _move(c, rid, "proposal", 1, amount="250")
    entries = records.timeline(admin, specs.current().entity("deal"), rid)
    kinds = [e.kind for e in entries]
    assert kinds.count("stage") == 2  # started in New, moved to Proposal
    updates = [e for e in entries if e.kind == "update"]
    assert updates and all(k != "stage" for e in updates for k, *_ in e.changes)
    assert any(k == "amount" for e in updates for k, *_ in e.changes)


def test_with_htmx_the_gate_opens_as_a_dialog_and_a_move_reloads_the_page(c, admin):
    rid = make_record(admin, "deal", {"title": "Dialog"})
    page = c.get(f"/r/deal/{rid}").data.decode()
    assert 'id="stage-dialog"' in page and 'hx-target="#stage-dialog-body"' in page
    r = c.hx_post(f"/r/deal/{rid}/stage", {"stage": "won", "version": "1"})
    body = r.data.decode()
    assert r.status_code == 200 and "<html" not in body and "HX-Request" in r.headers["Vary"]
    assert 'id="stage-dialog-title"' in body
    assert 'name="amount"' in body and 'name="close_date"' in body and 'name="title"' not in body
    # A value that does not parse: the dialog again, with the message, nothing moved.
    bad = c.hx_post(
        f"/r/deal/{rid}/stage",
        {"stage": "won", "version": "1", "gate": ["amount", "close_date"], "amount": "lots",
         "close_date": "2026-12-31"},
    )  # fmt: skip
    assert bad.status_code == 400 and 'id="stage-dialog-title"' in bad.data.decode()
    assert stored("deal", rid)["stage"] == "new"
    ok = c.hx_post(
        f"/r/deal/{rid}/stage",
        {"stage": "won", "version": "1", "gate": ["amount", "close_date"], "amount": "900",
         "close_date": "2026-12-31"},
    )  # fmt: skip
    assert ok.status_code == 204 and ok.headers["HX-Redirect"].endswith(f"/r/deal/{rid}")
    assert stored("deal", rid)["stage"] == "won"
