"""A person signs in through the real page in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.e2e


def test_first_run_then_sign_in_and_out(live_server, page):
    page.goto(live_server.url + "/")
    # An empty install asks for the first administrator.
    page.wait_for_url("**/setup")
    screenshot(page, "setup")
    page.get_by_label("Your name").fill("Lin Wei 林伟")
    page.get_by_label("E-mail").fill("lin@example.com")
    page.locator("input[name=password]").fill("a-good-long-secret")
    page.get_by_label("Repeat the password").fill("a-good-long-secret")
    page.get_by_role("button", name="Create administrator").click()
    page.wait_for_url("**/login")
    expect(page.get_by_text("Your administrator account is ready")).to_be_visible()

    page.get_by_label("E-mail").fill("lin@example.com")
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("do not match an active account")).to_be_visible()
    screenshot(page, "login-error")

    page.get_by_label("Password").fill("a-good-long-secret")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    expect(page.get_by_role("heading", name="Good to see you, Lin Wei 林伟")).to_be_visible()
    screenshot(page, "home")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    expect(page.get_by_text("You are signed out")).to_be_visible()


def test_sign_in_page_and_home_on_a_phone(live_server, browser):
    with live_server.app.app_context():
        make_user("sam@example.com", display_name="Sam Staff")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(live_server.url + "/login")
    screenshot(page, "login-phone")
    page.get_by_label("E-mail").fill("sam@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    # The menu folds behind a button on a narrow screen.
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(sign_out).to_be_visible()
    screenshot(page, "home-phone-menu")
    context.close()
