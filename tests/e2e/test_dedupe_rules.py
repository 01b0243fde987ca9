"""An administrator sets up duplicate rules in Chromium: adds the default company rules,
writes a rule of their own (an error shown by its field first), turns one off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.dedupe import admin as dedupe
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import field, make_entity, make_user, text

pytestmark = pytest.mark.e2e


def test_an_administrator_sets_up_duplicate_rules(live_server, page):
    with live_server.app.app_context():
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_entity(
            "account",
            fields=[text("name", required=True), field("phone", "phone"), field("website", "url")],
            name_field="name",
        )
        make_entity(
            "contact",
            fields=[
                text("full_name", required=True),
                field("email", "email"),
                field("phone", "phone"),
            ],
            name_field="full_name",
        )
    url = live_server.url
    sign_in(page, url, "ada@example.com")
    page.goto(url + "/admin/duplicates/")
    accounts = page.locator("#dedupe-account")
    accounts.get_by_role("button", name="Add the default company rules").click()
    page.wait_for_url("**/admin/duplicates/#dedupe-account")
    expect(accounts.get_by_text("Same company: same name and phone")).to_be_visible()

    page.locator("#dedupe-contact").get_by_role("link", name="New rule").click()
    page.locator("#name").fill("Same person: same e-mail")
    page.locator("#key").fill("contact_same_email")
    page.locator("#action").select_option("block")
    page.locator("#cond-0-field").select_option(["full_name"])
    page.locator("#cond-0-method").select_option("fuzzy")
    page.locator("#cond-0-threshold").fill("0.3")
    page.get_by_role("button", name="Add a condition").click()
    page.locator("#cond-1-field").select_option(["email"])
    page.locator("#cond-1-method").select_option("email")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("The similarity must be between 0.5 and 1.")).to_be_visible()
    screenshot(page, "dedupe-rule-form-error")
    page.locator("#cond-0-threshold").fill("0.85")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url("**/admin/duplicates/#dedupe-contact")
    row = page.locator("#dedupe-contact tbody tr").first
    expect(row).to_contain_text("similar (at least 85%)")
    expect(row).to_contain_text("Block")
    # off, then the list shows it so
    row.get_by_role("button", name="On").click()
    page.wait_for_url("**/admin/duplicates/#dedupe-contact")
    expect(
        page.locator("#dedupe-contact tbody tr").first.get_by_role("button", name="Off")
    ).to_be_visible()
    screenshot(page, "dedupe-rule-list")
    page.goto(url + "/admin/duplicates/")
    page.locator("#dedupe-account").get_by_role(
        "link", name="Same company: same name and phone"
    ).click()
    expect(page.locator("#cond-1-method")).to_have_value("phone")
    screenshot(page, "dedupe-rule-form")
    with live_server.app.app_context():
        row = dedupe.rule_by_key("contact_same_email")
        assert row.action == "block" and not row.enabled
        assert row.conditions[0] == {"field": "full_name", "method": "fuzzy", "threshold": 0.85}
