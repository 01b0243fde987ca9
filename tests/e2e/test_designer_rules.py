"""An administrator builds "when a deal is won, notify the owner and create a task" in
Chromium: the trigger's inputs and a new action row arrive by htmx, the rule is saved and
listed in words."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.automation import rules
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user
from tests.pipelines.factories import make_deal_entity

pytestmark = pytest.mark.e2e


def test_an_administrator_builds_a_rule(live_server, page):
    with live_server.app.app_context():
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_deal_entity()
    url = live_server.url
    sign_in(page, url, "ada@example.com")
    page.goto(url + "/admin/automation/")
    page.get_by_role("link", name="New rule").first.click()
    page.get_by_label("Which kind of record does the rule watch?").select_option("deal")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/rules/new?entity_key=deal")
    page.locator("#name").fill("Won: onboarding")
    page.locator("#key").fill("won_onboarding")
    page.get_by_label("What starts the rule").select_option("stage_entered")
    stage = page.locator("#trigger_stage")
    expect(stage).to_be_visible()  # swapped in by htmx
    stage.select_option("won")
    page.locator("#actions-0-title").fill("Won: {{ record.title }}")
    page.locator("#actions-0-to").select_option(["owner"])
    page.get_by_role("button", name="+ Create a task").click()
    subject = page.locator("#actions-1-subject")
    expect(subject).to_be_visible()
    subject.fill("Onboard {{ record_name }}")
    screenshot(page, "rule-editor")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url(url + "/admin/automation/")
    expect(page.get_by_text("Enters the stage Won")).to_be_visible()
    screenshot(page, "rule-list")
    with live_server.app.app_context():
        row = rules.rule_by_key("won_onboarding")
        assert [a["type"] for a in row.actions] == ["notify", "task"]
