"""The designer in Chromium, end to end: an administrator models "Member" with eight
fields of different types and a two-section layout, entirely in the browser; a staff
member then records a member on the form the administrator built."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.metadata import specs
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_layout_editor import drag, saving, top
from tests.factories import make_user

pytestmark = pytest.mark.e2e

# (type card label, field label, extra steps)
FIELDS = [
    ("Text", "Full name", {"required": True}),
    ("Email", "E-mail", {}),
    ("Phone", "Phone", {}),
    ("Date", "Joined on", {}),
    ("Picklist", "Membership level", {"values": ["Bronze", "Silver", "Gold 金"]}),
    ("Yes/No", "Receives the newsletter", {}),
    ("Currency", "Annual fee", {"currency": "EUR"}),
    ("Whole number", "Visits", {}),
    ("Long text", "Notes", {}),
]


def add_field(page, url, card, label, extra):
    page.goto(url + "/admin/entities/member/fields/new")
    page.locator(".type-card", has_text=card).first.click()
    page.wait_for_load_state()  # htmx listens from DOMContentLoaded on, as people type later
    page.get_by_role("textbox", name="Label", exact=True).fill(label)
    page.wait_for_function("() => document.querySelector('#key').value !== ''")
    if "currency" in extra:
        page.get_by_label("Currency (ISO code)").fill(extra["currency"])
    for i, value in enumerate(extra.get("values", [])):
        rows = page.locator("#choice-rows tr")
        if i >= rows.count():
            page.get_by_role("button", name="Add a value").click()
            page.wait_for_function(
                f"() => document.querySelectorAll('#choice-rows tr').length > {i}"
            )
        page.locator("#choice-rows tr").nth(i).get_by_label("Value label").fill(value)
    if extra.get("required"):
        page.get_by_label("Required").check()
    if label == "Membership level":
        screenshot(page, "designer-field-editor")
    page.get_by_role("button", name="Add field").click()
    page.wait_for_url("**/admin/entities/member")
    expect(page.get_by_text(f"Field “{label}” added")).to_be_visible()


def test_admin_models_member_and_staff_uses_it(live_server, page, browser):
    url = live_server.url
    with live_server.app.app_context():
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_user("sam@example.com", display_name="Sam Staff")
    sign_in(page, url, "ada@example.com")

    # The entity, with a key suggested from the label as the administrator types.
    page.get_by_title("Administration").click()  # the gear in the bar
    page.get_by_role("link", name="Configuration", exact=True).click()
    page.get_by_role("link", name="New entity").click()
    page.wait_for_load_state()
    page.get_by_label("Name (singular)").fill("Member")
    page.wait_for_function("() => document.querySelector('#key').value === 'member'")
    page.get_by_label("Colour").select_option("teal")
    page.get_by_role("button", name="Create entity").click()
    page.wait_for_url("**/admin/entities/member")

    for card, label, extra in FIELDS:
        add_field(page, url, card, label, extra)
    assert page.locator("#fields tbody tr").count() == len(FIELDS)
    screenshot(page, "designer-entity")

    # Two sections, by dragging fields into the second one.
    page.get_by_role("link", name="Form layout").click()
    page.wait_for_url("**/admin/entities/member/layout")
    editor = page.locator("form[data-layout-editor=form]")
    with saving(page):
        page.get_by_role("button", name="Add section").click()
    sections = editor.locator("[data-section]")
    with saving(page):
        sections.nth(1).get_by_label("Section title").fill("Membership")
        sections.nth(1).get_by_label("Section title").press("Enter")
    for n, key in enumerate(["membership_level", "annual_fee", "joined_on"]):
        with saving(page):
            drag(
                page,
                editor.locator(f"[data-field={key}]"),
                sections.nth(1).locator("[data-column]").nth(n % 2),
            )
    preview = page.locator("[data-preview] [data-preview-section]")
    assert preview.count() == 2
    assert preview.nth(1).get_by_role("heading").text_content() == "Membership"
    expect(preview.nth(1).get_by_text("Annual fee", exact=True)).to_be_visible()
    top(page)
    screenshot(page, "designer-layout")
    with live_server.app.app_context():
        layout = specs.current().layout("member")
        assert [s.title for s in layout.sections] == ["Details", "Membership"]
        assert set(layout.sections[1].field_keys) == {"membership_level", "annual_fee", "joined_on"}

    # A staff member fills in the form as designed.
    staff_context = browser.new_context(viewport={"width": 1280, "height": 900})
    staff = staff_context.new_page()
    sign_in(staff, url, "sam@example.com")
    staff.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    staff.get_by_role("link", name="New Member").click()
    expect(staff.get_by_role("heading", name="Membership")).to_be_visible()
    staff.get_by_label("Full name").fill("Zofia Nowak")
    staff.get_by_label("Membership level").select_option(label="Gold 金")
    staff.get_by_label("Annual fee").fill("120.50")
    staff.get_by_label("Joined on").fill("2026-03-01")
    staff.get_by_label("Receives the newsletter").check()
    staff.get_by_role("button", name="Create member").click()
    staff.wait_for_url("**/r/member/*")
    expect(staff.get_by_role("heading", name="Zofia Nowak")).to_be_visible()
    expect(staff.get_by_text("Gold 金")).to_be_visible()
    expect(staff.get_by_text("€120.50")).to_be_visible()
    screenshot(staff, "runtime-member-record")
    staff_context.close()
