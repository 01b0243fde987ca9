"""An administrator edits a pipeline in Chromium: drags a stage, adds one, watches the
board preview follow, saves; screenshots at desktop and phone width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.metadata import specs
from crm.pipelines import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user
from tests.pipelines.factories import make_deal_entity

pytestmark = pytest.mark.e2e


def _setup(app) -> None:
    with app.app_context():
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_deal_entity()


def _drag(page, source, target) -> None:
    """Press the row's handle and move it near the bottom of ``target`` in small steps
    (real mouse moves: SortableJS runs in fallback mode)."""
    target.scroll_into_view_if_needed()
    source.scroll_into_view_if_needed()
    box, end = source.bounding_box(), target.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=4)
    ty = end["y"] + end["height"] - 6
    page.mouse.move(end["x"] + end["width"] / 2, ty, steps=16)
    page.mouse.move(end["x"] + end["width"] / 2 + 2, ty, steps=2)  # let Sortable settle
    page.mouse.up()


def test_edit_a_pipeline_with_drag_add_preview_and_save(live_server, page):
    _setup(live_server.app)
    sign_in(page, live_server.url, "ada@example.com")
    page.goto(live_server.url + "/admin/entities/deal")
    page.get_by_role("link", name="Pipelines").click()
    expect(page.locator("#pipelines")).to_contain_text("Sales")
    page.get_by_role("link", name="Sales").click()
    rows = page.locator("#stage-rows tr.stage-row")
    expect(rows).to_have_count(5)
    preview = page.locator("#pipeline-preview .pl-col-name")
    expect(preview).to_have_text(["New", "Qualified", "Proposal", "Won", "Lost"])

    # rename the first stage: the preview follows as one types
    rows.nth(0).locator("input[name$='.name']").fill("Fresh lead")
    expect(preview.first).to_have_text("Fresh lead")
    # drag "Qualified" below "Proposal": the rows and the preview change order
    _drag(page, rows.nth(1).locator(".drag-handle"), rows.nth(2))
    names = rows.locator("input[name$='.name']")
    expect(names.nth(1)).to_have_value("Proposal")
    expect(preview).to_have_text(["Fresh lead", "Proposal", "Qualified", "Won", "Lost"])
    # add a stage (htmx appends a row), name it, colour it
    page.get_by_role("button", name="Add a stage").click()
    expect(rows).to_have_count(6)
    new = rows.nth(5)
    new.locator("input[name$='.name']").fill("Negotiation")
    new.locator("input[name$='.probability']").fill("80")
    new.locator("select[name$='.color']").select_option("violet")
    expect(page.locator("#pipeline-preview .pl-col").nth(5)).to_contain_text("80 %")
    expect(page.locator("#pipeline-preview .pl-col").nth(5)).to_have_class("pl-col c-violet")
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays at the top
        screenshot(page, f"pipeline-editor-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Save pipeline").click()
    expect(page.locator("#pipelines")).to_contain_text("6 stages")
    with live_server.app.app_context():
        specs.raw()
        sales = service.pipelines_of("deal").get("sales")
        assert [s.key for s in sales.active_stages] == [
            "new", "proposal", "qualified", "won", "lost", "negotiation",
        ]  # fmt: skip
        assert sales.stage("new").name == "Fresh lead"
        assert sales.stage("negotiation").color == "violet"


def test_bad_input_shows_its_message_in_the_row(live_server, page):
    _setup(live_server.app)
    sign_in(page, live_server.url, "ada@example.com")
    page.goto(live_server.url + "/admin/entities/deal/pipelines/sales/edit")
    row = page.locator("#stage-rows tr.stage-row").nth(1)
    row.locator("input[name$='.probability']").fill("150")
    page.get_by_role("button", name="Save pipeline").click()
    row = page.locator("#stage-rows tr.stage-row").nth(1)
    expect(row.locator(".errors")).to_contain_text("whole number from 0 to 100")
    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "pipeline-editor-error-390")
