"""An administrator publishes a shared list view and reads the change log, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.metadata import list_views as lv
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _setup(app) -> None:
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        service.create_entity(
            "account",
            "Account",
            "Accounts",
            color="teal",
            fields=[
                {"key": "name", "type": "text", "label": "Company name"},
                {
                    "key": "stage",
                    "type": "picklist",
                    "label": "Stage",
                    "choices": [
                        {"key": "new", "label": "New"},
                        {"key": "qualified", "label": "Qualified"},
                        {"key": "won", "label": "Won"},
                        {"key": "lost", "label": "Lost"},
                    ],
                },
                {"key": "amount", "type": "currency", "label": "Amount"},
                {"key": "closes", "type": "date", "label": "Expected close"},
                {"key": "email", "type": "email", "label": "E-mail"},
                {"key": "notes", "type": "long_text", "label": "Notes"},
                {"key": "vip", "type": "boolean", "label": "VIP"},
            ],
            name_field="name",
            actor_id=admin.id,
        )
        service.update_field(
            "account", "amount", label="Deal value", required=True, actor_id=admin.id
        )
        lv.save_shared_view(
            "account",
            {
                "name": "All accounts",
                "columns": ["name", "stage", "amount", "owner_id"],
                "sort": [["name", "asc"]],
                "is_default": True,
            },
            actor_id=admin.id,
        )


READY = """sel => {
  const el = document.querySelector(sel);
  return !!(el && el["htmx-internal-data"] && el["htmx-internal-data"].initHash);
}"""


def _ready(page, selector: str) -> None:
    """Wait until htmx has processed a swapped-in element (a person is never that quick)."""
    page.wait_for_function(READY, arg=selector)


def _add_filter(page, n: int) -> None:
    page.get_by_role("button", name="+ Add filter").click()
    _ready(page, f"#filters-{n}-field")


def test_publish_a_list_view_and_read_the_change_log(live_server, page):
    _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "ada@example.com")

    page.goto(url + "/admin/entities/account/views/new")
    page.locator("#name").fill("Deals closing soon")
    shown = page.locator("#lv-shown-list .lv-col-label")
    assert shown.all_inner_texts() == [
        "Company name", "Stage", "Deal value", "Expected close", "E-mail", "Notes",
    ]  # fmt: skip
    # hide Notes and E-mail, show Owner, then move it up with its arrow (no drag needed)
    page.get_by_role("button", name="Hide Notes").click()
    page.locator("input[name=show][value=email]").uncheck()
    page.locator("input[name=show][value=owner_id]").check()
    page.get_by_role("button", name="Move Owner up").click()
    assert shown.all_inner_texts() == [
        "Company name", "Stage", "Deal value", "Owner", "Expected close",
    ]  # fmt: skip
    assert page.locator("#lv-shown-list .lv-col-pos").all_inner_texts() == ["1", "2", "3", "4", "5"]
    # drag Expected close (the last one) above Deal value, and put it back with the arrows
    page.locator(".lv-col[data-key=closes] .drag-handle").drag_to(
        page.locator(".lv-col[data-key=amount] .drag-handle")
    )
    assert shown.all_inner_texts()[2] == "Expected close"
    assert page.locator("#lv-shown-list .lv-col-pos").all_inner_texts() == ["1", "2", "3", "4", "5"]
    page.get_by_role("button", name="Move Expected close down").click()
    page.get_by_role("button", name="Move Expected close down").click()
    assert shown.all_inner_texts() == [
        "Company name", "Stage", "Deal value", "Owner", "Expected close",
    ]  # fmt: skip

    page.locator("#sort-0-field").select_option("closes")
    page.locator("#sort-0-dir").select_option("asc")
    page.locator("#sort-1-field").select_option("amount")
    page.locator("#sort-1-dir").select_option("desc")

    # filters: rows come from the server (htmx); the conditions follow the field
    _add_filter(page, 0)
    page.locator("#filters-0-field").select_option("stage")
    page.wait_for_selector("input[name=filters-0-value][value=won]")
    page.locator("input[name=filters-0-value][value=qualified]").check()
    page.locator("input[name=filters-0-value][value=won]").check()
    _add_filter(page, 1)
    page.locator("#filters-1-field").select_option("closes")
    page.wait_for_selector("#filters-1-op option[value=relative]", state="attached")
    _ready(page, "#filters-1-op")
    page.locator("#filters-1-op").select_option("between")
    page.wait_for_selector("#filters-1-value2")
    page.locator("#filters-1-value").fill("2026-01-01")
    page.locator("#filters-1-value2").fill("2026-03-31")
    _add_filter(page, 2)
    page.locator("#filters-2-field").select_option("owner_id")
    page.wait_for_selector("#filters-2-op option[value=is_me]", state="attached")
    _ready(page, "#filters-2-op")
    page.locator("#filters-2-op").select_option("is_me")
    page.wait_for_selector("#lv-filter-2 >> text=No value needed")
    page.locator("#is_default").check()
    screenshot(page, "designer-list-view-editor")

    page.get_by_role("button", name="Save view").click()
    page.wait_for_url("**/admin/entities/account/views")
    expect(page.get_by_text("Saved the view “Deals closing soon”.")).to_be_visible()
    expect(page.get_by_text("Stage is one of Qualified, Won")).to_be_visible()
    expect(
        page.get_by_text("Expected close is between Jan 1, 2026 and Mar 31, 2026")
    ).to_be_visible()
    screenshot(page, "designer-list-views")

    with live_server.app.app_context():
        (view,) = [v for v in lv.list_views("account", None) if v.name == "Deals closing soon"]
        assert view.columns == ("name", "stage", "amount", "owner_id", "closes")
        assert view.sort == (("closes", "asc"), ("amount", "desc"))
        assert view.is_default

    # a mistake is reported next to its input, and nothing is saved
    page.goto(url + f"/admin/entities/account/views/{view.id}/edit")
    page.locator("#name").fill("")
    page.locator("#filters-1-value").fill("2026-05-01")
    page.get_by_role("button", name="Save view").click()
    expect(page.get_by_text("Enter a name for the view.")).to_be_visible()
    expect(
        page.get_by_text("Expected close: The first value must not be after the second.")
    ).to_be_visible()
    screenshot(page, "designer-list-view-errors")

    page.goto(url + "/admin/changes")
    expect(page.get_by_text("Added list view").first).to_be_visible()
    expect(page.get_by_text("Deal value").first).to_be_visible()
    screenshot(page, "designer-change-log")
    page.locator("#ch-entity").select_option("account")
    page.wait_for_url("**/admin/changes?entity=account")
    assert page.get_by_role("link", name="History").get_attribute("aria-current") == "page"
    page.go_back()
    page.wait_for_url(url + "/admin/changes")


def test_the_editor_on_a_phone(live_server, browser):
    _setup(live_server.app)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, live_server.url, "ada@example.com")
    page.goto(live_server.url + "/admin/entities/account/views/1/edit")
    _add_filter(page, 0)
    page.locator("#filters-0-field").select_option("stage")
    page.wait_for_selector("input[name=filters-0-value][value=won]")
    # nothing sticks out sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "designer-list-view-editor-phone")
    for path, name in [
        ("/admin/entities/account/views", "designer-list-views-phone"),
        ("/admin/changes", "designer-change-log-phone"),
    ]:
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        screenshot(page, name)
    context.close()
