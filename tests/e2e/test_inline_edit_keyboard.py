"""Inline edit without a mouse, in Chromium: the Edit links are visible before anything is
hovered, reached with Tab, show a focus ring, open with Enter, and the focus comes back to
the link after Escape or a save."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_console_clean import _setup

pytestmark = pytest.mark.e2e


def _tab_to(page, locator, limit: int = 60) -> None:
    for _ in range(limit):
        if locator.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError("never reached by Tab")


def test_inline_edit_is_visible_and_works_by_keyboard(live_server, page):
    globex = _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + f"/r/account/{globex}")
    page.mouse.move(0, 0)
    link = page.get_by_role("link", name="Edit Employees")
    # Visible without hovering: fully opaque, with a border that shows it is a control.
    assert link.evaluate("el => getComputedStyle(el).opacity") == "1"
    assert link.evaluate("el => getComputedStyle(el).borderTopStyle") == "solid"
    expect(link).to_be_visible()
    screenshot(page, "inline-edit-links")

    page.locator("h1").click()  # start from the page, then use the keyboard only
    _tab_to(page, link)
    assert link.evaluate("el => el.matches(':focus-visible')")
    assert link.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    screenshot(page, "inline-edit-focused")
    page.keyboard.press("Enter")
    field = page.locator("form#fv-employees").get_by_label("Employees")
    expect(field).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("div#fv-employees")).to_contain_text("4,300")
    expect(link).to_be_focused()

    page.keyboard.press("Enter")
    expect(field).to_be_focused()
    field.fill("4400")
    page.keyboard.press("Enter")
    expect(page.locator("div#fv-employees")).to_contain_text("4,400")
    expect(link).to_be_focused()
