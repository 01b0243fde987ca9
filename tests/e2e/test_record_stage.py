"""On a record page, a rep clicks a later stage on the stage path; the stage needs values
first, asked for in a dialog; once saved, the path and the timeline show the move."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_record, make_user
from tests.pipelines.factories import make_deal_entity

pytestmark = pytest.mark.e2e


def test_a_gated_move_from_the_stage_path(live_server, page):
    with live_server.app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_deal_entity()
        rid = make_record(admin, "deal", {"title": "Gamma"})
    sign_in(page, live_server.url, "ada@example.com")
    page.goto(f"{live_server.url}/r/deal/{rid}")
    path = page.locator(".stage-path")
    expect(path.locator("[aria-current=step]")).to_contain_text("New")
    path.get_by_role("button", name="Won").click()
    dialog = page.locator("#stage-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[name=amount]")).to_be_visible()
    expect(dialog.locator("input[name=close_date]")).to_be_visible()
    screenshot(page, "record-stage-gate-dialog")
    # A bad amount: the dialog stays, with the message; nothing moved.
    dialog.locator("input[name=amount]").fill("lots")
    dialog.locator("input[name=close_date]").fill("2026-06-30")
    dialog.get_by_role("button", name="Move to Won").click()
    expect(dialog.locator(".has-error input[name=amount]")).to_be_visible()
    expect(path.locator("[aria-current=step]")).to_contain_text("New")
    dialog.locator("input[name=amount]").fill("1200")
    dialog.get_by_role("button", name="Move to Won").click()
    expect(page.locator(".stage-path [aria-current=step]")).to_contain_text("Won")
    expect(page.locator("#timeline")).to_contain_text("Moved from New to Won")
    expect(dialog).to_be_hidden()
    screenshot(page, "record-stage-after-move")
