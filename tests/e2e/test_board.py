"""A sales rep drags a deal across the board into a stage with a gate, fills in what the
stage needs in the dialog, and sees the card and the sums move."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_record, make_user
from tests.pipelines.factories import make_deal_entity

pytestmark = pytest.mark.e2e


def drag(page, source, target) -> None:
    """Drag with real mouse moves in small steps (SortableJS runs in fallback mode)."""
    source.scroll_into_view_if_needed()
    start = source.bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + 12
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=4)
    end = target.bounding_box()
    tx, ty = end["x"] + end["width"] / 2, end["y"] + min(end["height"] - 6, 30)
    page.mouse.move(tx, ty, steps=16)
    page.mouse.move(tx + 2, ty, steps=2)  # let Sortable settle
    page.mouse.up()


@pytest.fixture
def board(live_server, page):
    with live_server.app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_deal_entity()
        ids = {
            "alpha": make_record(admin, "deal", {"title": "Alpha", "amount": "100"}),
            "bravo": make_record(admin, "deal", {"title": "Bravo", "amount": "250"}),
        }
    sign_in(page, live_server.url, "ada@example.com")
    page.goto(live_server.url + "/r/deal/board")
    return page, ids


def test_drag_a_card_through_the_gate_dialog(live_server, board):
    page, ids = board
    won = page.locator("[data-column=won]")
    new = page.locator("[data-column=new]")
    expect(won.locator("[data-count]")).to_have_text("0")
    expect(new.locator("[data-amount]")).to_have_text("€350.00")
    screenshot(page, "board-1280")
    card = page.locator(f"#card-{ids['alpha']}")
    drag(page, card, won.locator(".board-cards"))
    dialog = page.locator("#board-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[name=close_date]")).to_be_visible()
    assert dialog.locator("input[name=amount]").count() == 0  # it has an amount already
    expect(new.locator(f"#card-{ids['alpha']}")).to_be_visible()  # back until saved
    screenshot(page, "board-gate-dialog")
    dialog.locator("input[name=close_date]").fill("2026-06-30")
    dialog.get_by_role("button", name="Save and move").click()
    expect(dialog).to_be_hidden()
    expect(won.locator(f"#card-{ids['alpha']}")).to_be_visible()
    expect(won.locator("[data-count]")).to_have_text("1")
    expect(won.locator("[data-amount]")).to_have_text("€100.00")
    expect(new.locator("[data-amount]")).to_have_text("€250.00")
    expect(page.locator("#board-notice")).to_contain_text("moved to Won")


def test_the_board_scrolls_sideways_on_a_phone(live_server, board):
    page, _ids = board
    page.set_viewport_size({"width": 390, "height": 844})
    columns = page.locator(".board")
    expect(columns.locator("[data-column=lost]")).to_be_attached()
    assert page.evaluate("document.querySelector('.board').scrollWidth > 390")
    assert page.evaluate("document.documentElement.scrollWidth <= 390")  # the page does not
    screenshot(page, "board-390")
