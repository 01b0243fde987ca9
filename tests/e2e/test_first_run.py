"""A new installation in Chromium: create the first administrator, sign in, choose a
starter on the home page and land on a CRM with its lists; the same choice read in
Chinese."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def test_first_admin_picks_a_starter_and_lands_on_its_lists(live_server, page):
    url = live_server.url
    page.goto(url + "/")
    page.wait_for_url("**/setup")
    page.get_by_label("Your name").fill("Lin Wei 林伟")
    page.get_by_label("E-mail").fill("lin@example.com")
    page.locator("input[name=password]").fill("a-good-long-secret")
    page.get_by_label("Repeat the password").fill("a-good-long-secret")
    page.get_by_role("button", name="Create administrator").click()
    page.wait_for_url("**/login")
    page.get_by_label("E-mail").fill("lin@example.com")
    page.get_by_label("Password").fill("a-good-long-secret")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")

    expect(page.get_by_role("heading", name="Choose a starting point")).to_be_visible()
    card = page.locator("#starter-after-sales-service")
    expect(card.get_by_role("heading", name="After-sales service")).to_be_visible()
    expect(card.get_by_text("Field visits")).to_be_visible()
    expect(page.locator("#starter-membership-retail")).to_contain_text("Member care")
    expect(page.get_by_role("button", name="Start empty")).to_be_visible()
    screenshot(page, "first-run-starters-en")

    card.get_by_role("button", name="Use this starter").click()
    page.wait_for_url(url + "/")
    expect(page.get_by_text("starter is installed")).to_be_visible()
    nav = page.locator("nav.nav")
    for label in ("Customers", "Assets", "Tickets", "Field visits", "Contacts"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Choose a starting point")).to_have_count(0)
    screenshot(page, "first-run-installed-en")

    nav.get_by_role("link", name="Tickets", exact=True).click()
    expect(page.get_by_role("heading", name="Tickets")).to_be_visible()
    screenshot(page, "first-run-tickets-en")


def test_the_starters_read_in_chinese(live_server, page):
    with live_server.app.app_context():
        lin = make_user("lin@example.com", display_name="林伟", is_admin=True)
        lin.locale = "zh_Hans"
        db.session.commit()
    sign_in(page, live_server.url, "lin@example.com")
    expect(page.get_by_role("heading", name="选择起点")).to_be_visible()
    retail = page.locator("#starter-membership-retail")
    expect(retail.get_by_role("heading", name="会员与零售")).to_be_visible()
    expect(retail).to_contain_text("会员回访")
    expect(retail).to_contain_text("店长")
    screenshot(page, "first-run-starters-zh")
    retail.get_by_role("button", name="使用此模板").click()
    page.wait_for_url(live_server.url + "/")
    nav = page.locator("nav.nav")
    for label in ("会员", "消费记录", "会员回访", "门店"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    screenshot(page, "first-run-installed-zh")
