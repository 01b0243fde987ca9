"""Boards: columns with counts, sums and forecast through the user's scope and field
rights; moves through the record service (gates as a dialog, conflicts, refusals)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.access import policy as P
from crm.errors import NotFound
from crm.extensions import db
from crm.metadata import specs
from crm.pipelines import board as boards
from crm.pipelines import service
from crm.pipelines.models import StageMove
from crm.records import service as records
from tests.factories import make_record, make_role, make_user, stored
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


def _request(user, **args):
    from werkzeug.datastructures import MultiDict

    from crm.metadata import list_views
    from crm.records import listing

    view = list_views.default_view("deal", user.id)
    return listing.parse_request(user, _deal(), MultiDict(args), view)
