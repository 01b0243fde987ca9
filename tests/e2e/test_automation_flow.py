"""Issue 17's browser test: an administrator builds "when a deal is won, notify finance and
create a task" in Chromium, a rep moves a deal to Won, and it happens: the task is on the
deal for its owner, finance's bell rings with the deal's name, and the rule's run log says
what it did."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.access import policy as P
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_record, make_role, make_user
from tests.pipelines.factories import make_deal_entity

pytestmark = pytest.mark.e2e


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login**")


def test_won_deal_notifies_finance_and_creates_a_task(live_server, page):
    with live_server.app.app_context():
        make_deal_entity()
        finance = make_role("Finance", {"read": P.ALL}, entity="deal")
        make_role("Sales", {"read": P.OWN, "edit": P.OWN, "create": P.ALL}, entity="deal")
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        rep = make_user("rep@example.com", display_name="Rita Rep", roles=("Sales",))
        make_user("fin@example.com", display_name="Finn Finance", roles=("Finance",))
        rid = make_record(rep, "deal", {"title": "Gamma", "amount": "1200",
                                        "close_date": "2026-06-30"})  # fmt: skip
        finance_id = finance.id
    url = live_server.url

    # The administrator builds the rule.
    sign_in(page, url, "ada@example.com")
    page.goto(url + "/admin/automation/rules/new?entity_key=deal")
    page.locator("#name").fill("Won: tell finance")
    page.locator("#key").fill("won_finance")
    page.get_by_label("What starts the rule").select_option("stage_entered")
    stage = page.locator("#trigger_stage")
    expect(stage).to_be_visible()  # swapped in by htmx
    stage.select_option("won")
    page.locator("#actions-0-to").select_option([f"role:{finance_id}"])
    page.locator("#actions-0-title").fill("Won: {{ record.title }} ({{ record.amount }})")
    page.get_by_role("button", name="+ Create a task").click()
    subject = page.locator("#actions-1-subject")
    expect(subject).to_be_visible()
    subject.fill("Onboard {{ record_name }}")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url(url + "/admin/automation/")
    expect(page.get_by_text("Enters the stage Won")).to_be_visible()
    sign_out(page)

    # The rep wins the deal.
    sign_in(page, url, "rep@example.com")
    page.goto(f"{url}/r/deal/{rid}")
    page.locator(".stage-path").get_by_role("button", name="Won").click()
    expect(page.locator(".stage-path [aria-current=step]")).to_contain_text("Won")
    page.reload()
    expect(page.locator("#next-steps")).to_contain_text("Onboard Gamma")
    screenshot(page, "automation-task-on-won-deal")
    sign_out(page)

    # Finance hears of it.
    sign_in(page, url, "fin@example.com")
    expect(page.locator("#bell-count")).to_have_text("1")
    page.goto(url + "/notifications/")
    expect(page.get_by_role("link", name="Won: Gamma (€1,200.00)")).to_be_visible()
    screenshot(page, "automation-finance-bell")
    sign_out(page)

    # The run log says what the rule did.
    sign_in(page, url, "ada@example.com")
    page.goto(url + "/admin/automation/")
    page.get_by_role("link", name="Run log").first.click()
    expect(page.get_by_text("notified Finn Finance")).to_be_visible()
    expect(page.locator("#rule-runs").get_by_role("link", name="Gamma")).to_be_visible()
    screenshot(page, "automation-run-log")
