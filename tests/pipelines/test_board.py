"""Boards: columns with counts, sums and forecast through the user's scope and field
rights; moves through the record service (gates as a dialog, conflicts, refusals)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import url_for
from sqlalchemy import func, select

from crm.access import policy as P
from crm.extensions import db
from crm.metadata import specs
from crm.pipelines import board as boards
from crm.pipelines import service
from crm.pipelines.models import StageMove
from crm.pipelines.service import StageInput
from crm.records import service as records
from tests.factories import make_entity, make_record, make_role, make_user, stored, text
from tests.pipelines.factories import make_deal_entity


def _deal():
    return specs.current().entity("deal")


def _moves(record_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).select_from(StageMove).where(StageMove.record_id == record_id)
    )


def _set(user, rid, values):
    row = stored("deal", rid)
    records.update_record(user, _deal(), rid, values, expected_version=row["version"])


@pytest.fixture
def deals(admin):
    """Four deals: two new (100, 50), one qualified (200), one in proposal (1000)."""
    make_deal_entity()
    ids = {
        "a": make_record(admin, "deal", {"title": "Alpha", "amount": "100"}),
        "b": make_record(admin, "deal", {"title": "Bravo", "amount": "50"}),
        "c": make_record(admin, "deal", {"title": "Charlie", "amount": "200"}),
        "d": make_record(admin, "deal", {"title": "Delta", "amount": "1000"}),
    }
    _set(admin, ids["c"], {"stage": "qualified"})
    _set(admin, ids["d"], {"stage": "proposal"})
    return ids


def _columns(client, url="/r/deal/board"):
    r = client.get(url)
    assert r.status_code == 200, r.text
    return r


def test_board_columns_counts_sums_and_forecast(deals, admin, login_as):
    board = boards.board(admin, _deal(), boards.pipeline_of(_deal(), "sales"), _request(admin))
    by = {c.stage.key: c for c in board.columns}
    assert [c.stage.key for c in board.columns] == ["new", "qualified", "proposal", "won", "lost"]
    assert {k: c.count for k, c in by.items()} == {
        "new": 2, "qualified": 1, "proposal": 1, "won": 0, "lost": 0,
    }  # fmt: skip
    assert [c.name for c in by["new"].cards] == ["Bravo", "Alpha"]  # newest change first
    assert "150" in by["new"].amount and "1,000" in by["proposal"].amount
    assert "15" in by["new"].forecast  # 150 x 10 %
    assert "60" in by["qualified"].forecast  # 200 x 30 %
    assert "600" in by["proposal"].forecast  # 1000 x 60 %
    assert board.count == 4 and "1,350" in board.amount and "675" in board.forecast
    page = _columns(login_as(admin)).text
    assert "Alpha" in page and "Weighted forecast" in page and "€1,350.00" in page


def _board(user, **args):
    return boards.board(user, _deal(), boards.pipeline_of(_deal(), "sales"), _request(user, **args))


def test_filters_and_search_of_the_list_apply(deals, admin):
    board = _board(admin, **{"f.title.contains": "lph"})
    assert board.count == 1
    assert [c.name for col in board.columns for c in col.cards] == ["Alpha"]
    board = _board(admin, **{"f.stage.in": "proposal"})
    assert board.count == 1 and "1,000" in board.amount


def test_a_scoped_user_sees_only_their_cards_and_sums(deals, admin, login_as):
    make_role("Rep", {"read": P.OWN, "create": P.ALL, "edit": P.OWN})
    rep = make_user("rep@example.com", display_name="Rita Rep", roles=("Rep",))
    make_record(rep, "deal", {"title": "Mine", "amount": "7"})
    board = _board(rep)
    assert [c.name for col in board.columns for c in col.cards] == ["Mine"]
    assert board.count == 1 and "7.00" in board.amount and "0.70" in board.forecast
    page = _columns(login_as(rep)).text
    assert "Mine" in page and "Alpha" not in page and "1,350" not in page


def test_no_sums_at_all_when_the_amount_is_hidden(deals, admin, login_as):
    make_role("Blind", {"read": P.ALL, "edit": P.ALL}, {("deal", "amount"): P.HIDDEN})
    blind = make_user("blind@example.com", roles=("Blind",))
    board = _board(blind)
    assert board.count == 4 and board.sums is False
    assert board.amount is None and board.forecast is None
    assert all(c.amount is None and c.forecast is None for c in board.columns)
    page = _columns(login_as(blind)).text
    assert "Weighted forecast" not in page and "€" not in page and "Alpha" in page


def test_card_fields_show_only_what_the_user_may_read(deals, admin, login_as):
    service.save_pipeline(
        "deal", "sales", "Sales", _stages(),
        options={"amount_field": "amount", "card_fields": ["amount", "close_date"]},
    )  # fmt: skip
    card = next(c for c in _board(admin).columns[2].cards)
    assert [label for label, _v in card.values] == ["Amount"]
    assert "1,000" in str(card.values[0][1]) and card.owner == "Ada Admin"
    make_role("Blind", {"read": P.ALL}, {("deal", "amount"): P.HIDDEN})
    blind = make_user("blind@example.com", roles=("Blind",))
    assert _board(blind).columns[2].cards[0].values == []


def _stages(**changes):
    from tests.pipelines.factories import stages

    out = stages()
    for s in out:
        for key, value in changes.get(s.key, {}).items():
            setattr(s, key, value)
    return out


def test_a_record_long_in_its_stage_is_stale(deals, admin):
    service.save_pipeline(
        "deal", "sales", "Sales", _stages(new={"stale_days": 3}),
        options={"amount_field": "amount"},
    )  # fmt: skip
    alpha = db.session.scalars(select(StageMove).where(StageMove.record_id == deals["a"])).one()
    alpha.at = alpha.at - timedelta(days=5)
    db.session.commit()
    cards = {c.name: c for c in _board(admin).columns[0].cards}
    assert cards["Alpha"].stale_days == 5 and cards["Bravo"].stale_days is None


def test_show_more_pages_a_column(deals, admin, login_as):
    for n in range(boards.CARDS + 2):
        make_record(admin, "deal", {"title": f"Bulk {n:02d}"})
    first = _board(admin).columns[0]
    assert len(first.cards) == boards.CARDS and first.after and first.count == boards.CARDS + 4
    client = login_as(admin)
    r = client.hx_get(f"/r/deal/board/new/more?pipeline=sales&after={first.after}")
    assert r.status_code == 200 and "<html" not in r.text
    shown = {c.name for c in first.cards}
    rest = [n for n in ("Bulk 01", "Bulk 00", "Bravo", "Alpha") if n not in shown]
    assert all(n in r.text for n in rest) and "Bulk 21" not in r.text
    assert "Show more" not in r.text
    assert client.hx_get("/r/deal/board/new/more?pipeline=sales&after=garbage").status_code == 400


def _move(client, rid, stage, *, version=None, src=None, hx=True, **extra):
    row = stored("deal", rid)
    data = {
        "stage": stage,
        "version": str(row["version"] if version is None else version),
        "from": src or row["stage"],
        **extra,
    }
    return (
        client.hx_post(f"/r/deal/{rid}/move", data)
        if hx
        else client.submit(f"/r/deal/{rid}/move", data)
    )


def test_a_move_changes_the_stage_once_with_history(deals, admin, login_as):
    client = login_as(admin)
    before = _moves(deals["a"])
    r = _move(client, deals["a"], "qualified")
    assert r.status_code == 200, r.text
    assert "board-changed" in r.headers["HX-Trigger"] and "board-moved" in r.headers["HX-Trigger"]
    assert "moved to Qualified" in r.text
    row = stored("deal", deals["a"])
    assert (row["stage"], row["probability"], row["version"]) == ("qualified", Decimal(30), 2)
    assert _moves(deals["a"]) == before + 1
    after = _board(admin)
    assert after.columns[0].count == 1 and after.columns[1].count == 2


def test_a_move_without_javascript_redirects_to_the_board(deals, admin, login_as):
    client = login_as(admin)
    r = _move(client, deals["a"], "qualified", hx=False)
    assert r.status_code == 303 and "/r/deal/board" in r.headers["Location"]
    assert stored("deal", deals["a"])["stage"] == "qualified"


def test_a_gate_asks_for_exactly_the_missing_values_then_moves(deals, admin, login_as):
    client = login_as(admin)
    r = _move(client, deals["a"], "won")  # has an amount, no close date
    assert r.status_code == 200
    assert r.headers["HX-Retarget"] == "#board-dialog-body"
    assert "board-moved" not in r.headers.get("HX-Trigger", "")
    assert 'name="close_date"' in r.text and 'name="amount"' not in r.text
    assert "<dialog" not in r.text and "<html" not in r.text
    row = stored("deal", deals["a"])
    assert (row["stage"], row["version"]) == ("new", 1)
    # the dialog's form: the values and the stage together
    bad = _move(client, deals["a"], "won", gate="1", fields="close_date", close_date="soon")
    assert bad.status_code == 400 and 'name="close_date"' in bad.text
    assert stored("deal", deals["a"])["stage"] == "new"
    ok = _move(client, deals["a"], "won", gate="1", fields="close_date", close_date="2026-06-30")
    assert ok.status_code == 200 and "board-moved" in ok.headers["HX-Trigger"]
    row = stored("deal", deals["a"])
    assert (row["stage"], str(row["close_date"]), row["version"]) == ("won", "2026-06-30", 2)


def test_a_gate_without_javascript_is_a_page_with_the_form(deals, admin, login_as):
    client = login_as(admin)
    r = _move(client, deals["b"], "won", hx=False)
    assert r.status_code == 200 and "<html" in r.text
    assert 'name="close_date"' in r.text and 'name="amount"' not in r.text


def test_the_dialog_only_saves_the_gate_values(deals, admin, login_as):
    client = login_as(admin)
    r = _move(
        client, deals["a"], "won", gate="1", fields=["close_date", "title"],
        close_date="2026-06-30", title="Hijacked",
    )  # fmt: skip
    assert r.status_code == 200
    assert stored("deal", deals["a"])["title"] == "Alpha"


def test_a_lost_stage_asks_for_a_reason(deals, admin, login_as):
    client = login_as(admin)
    r = _move(client, deals["a"], "lost")
    assert 'name="lost_reason"' in r.text
    ok = _move(client, deals["a"], "lost", gate="1", fields="lost_reason", lost_reason="price")
    assert ok.status_code == 200
    assert stored("deal", deals["a"])["stage"] == "lost"


def test_a_card_moved_meanwhile_is_a_conflict_and_nothing_changes(deals, admin, login_as):
    client = login_as(admin)
    _set(admin, deals["a"], {"stage": "qualified"})  # someone else, after the board was read
    before = _moves(deals["a"])
    r = _move(client, deals["a"], "proposal", version=1, src="new")
    assert r.status_code == 409 and "board-changed" in r.headers["HX-Trigger"]
    assert r.headers["HX-Retarget"] == "#board-notice" and "nothing was moved" in r.text
    row = stored("deal", deals["a"])
    assert (row["stage"], row["version"]) == ("qualified", 2)
    assert _moves(deals["a"]) == before


def test_another_change_meanwhile_merges_with_the_move(deals, admin, login_as):
    client = login_as(admin)
    _set(admin, deals["a"], {"title": "Alpha two"})
    r = _move(client, deals["a"], "qualified", version=1, src="new")
    assert r.status_code == 200
    row = stored("deal", deals["a"])
    assert (row["stage"], row["title"], row["version"]) == ("qualified", "Alpha two", 3)


def test_a_stage_of_another_pipeline_or_archived_is_refused(deals, admin, login_as):
    service.save_pipeline(
        "deal", "renewal", "Renewal",
        [StageInput(key="due", name="Due", probability=50), StageInput(key="renewed",
         name="Renewed", probability=100, category="won")],
    )  # fmt: skip
    client = login_as(admin)
    r = _move(client, deals["a"], "due")
    assert r.status_code == 400 and "is not a stage of the pipeline" in r.text
    assert "board-changed" in r.headers["HX-Trigger"]
    r = _move(client, deals["a"], "nosuch")
    assert r.status_code == 400 and "There is no stage" in r.text
    row = stored("deal", deals["a"])
    assert (row["stage"], row["version"]) == ("new", 1)


def test_a_board_of_another_entitys_pipeline_is_not_found(deals, admin, login_as):
    make_entity("ticket", "Ticket", [text("subject", "Subject")], name_field="subject")
    service.save_pipeline("ticket", "support", "Support", [StageInput(key="open", name="Open")])
    client = login_as(admin)
    r = client.get("/r/deal/board?pipeline=support")
    assert r.status_code == 404 and "no pipeline “support”" in r.text
    assert client.get("/r/deal/board?pipeline=nosuch").status_code == 404
    assert client.get("/r/ticket/board?pipeline=sales").status_code == 404
    make_entity("plain", "Plain", [text("name", "Name")], name_field="name")
    assert client.get("/r/plain/board").status_code == 404
    assert client.get("/r/deal/board?pipeline=sales").status_code == 200


def test_without_the_edit_right_nothing_moves(deals, admin, login_as):
    make_role("Viewer", {"read": P.ALL, "edit": P.OWN})
    viewer = make_user("viewer@example.com", roles=("Viewer",))
    client = login_as(viewer)
    assert "Alpha" in _columns(client).text  # may read it
    r = _move(client, deals["a"], "qualified")
    assert r.status_code in (403, 404)
    r = _move(client, deals["a"], "won", gate="1", fields="close_date", close_date="2026-06-30")
    assert r.status_code in (403, 404)
    row = stored("deal", deals["a"])
    assert (row["stage"], row["version"], row["close_date"]) == ("new", 1, None)


def test_a_move_without_the_csrf_token_is_refused(deals, admin, login_as):
    client = login_as(admin)
    r = client.post(f"/r/deal/{deals['a']}/move", data={"stage": "qualified", "version": "1"})
    assert r.status_code == 400
    assert stored("deal", deals["a"])["stage"] == "new"


def test_the_list_links_to_the_board_only_with_pipelines(deals, admin, login_as):
    client = login_as(admin)
    assert "/r/deal/board" in client.get("/r/deal/").text
    make_entity("plain", "Plain", [text("name", "Name")], name_field="name")
    assert "/board" not in client.get("/r/plain/").text


def test_the_board_refresh_is_a_fragment(deals, admin, login_as):
    r = login_as(admin).hx_get("/r/deal/board?pipeline=sales")
    assert r.status_code == 200 and "<html" not in r.text and 'id="board"' in r.text
    assert "HX-Request" in r.headers["Vary"]


def _request(user, **args):
    from werkzeug.datastructures import MultiDict

    from crm.metadata import list_views
    from crm.records import listing

    view = list_views.default_view("deal", user.id)
    return listing.parse_request(user, _deal(), MultiDict(args), view)


def test_cards_link_their_record_and_move_in_the_readers_language(deals, admin, login_as, app):
    """Each card's link and move form point at that record's routes, and its words are in
    the reader's language, the record's name escaped inside them."""
    rid = make_record(admin, "deal", {"title": "<b>Eco</b> & Co", "amount": "5"})
    admin.locale = "es"
    db.session.commit()
    page = login_as(admin).get("/r/deal/board").text
    with app.test_request_context():
        record_url = url_for("records.record_page", key="deal", record_id=rid)
        move_url = url_for("pipelines.move", key="deal", record_id=rid)
    assert f'href="{record_url}">&lt;b&gt;Eco&lt;/b&gt; &amp; Co</a>' in page
    assert f'action="{move_url}" hx-post="{move_url}"' in page
    assert 'aria-label="Mover «&lt;b&gt;Eco&lt;/b&gt; &amp; Co» a"' in page
    assert ">Mover</button>" in page and "<b>Eco" not in page


def test_show_more_keeps_the_view_the_board_showed(deals, admin, login_as):
    """A column's next cards come from the view the board showed: its id rides on the
    "Show more" link (``builtin`` when no saved view was in effect)."""
    from html import unescape

    from crm.metadata import list_views

    for n in range(boards.CARDS + 2):
        make_record(admin, "deal", {"title": f"Bulk {n:02d}"})
    client = login_as(admin)
    page = client.get("/r/deal/board").text
    assert "view=builtin" in page
    view = list_views.save_private_view(
        "deal",
        {"name": "Bulk only", "columns": ["title"], "is_default": True,
         "filters": [{"field": "title", "op": "starts_with", "value": "Bulk"}]},
        user_id=admin.id,
    )  # fmt: skip
    page = client.get("/r/deal/board").text
    more = re.search(r'hx-get="([^"]*/board/new/more[^"]*)"', page).group(1)
    assert f"view={view.id}" in unescape(more)
    rest = client.hx_get(unescape(more)).text
    assert "Bulk" in rest and "Alpha" not in rest and "Bravo" not in rest
