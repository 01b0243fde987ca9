"""The bell in Chromium: a task assigned by a colleague shows in the badge; marking it read
swaps the entry and empties the badge (htmx, out of band); the e-mail choices page."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from crm.activities import service as activities
from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def test_the_bell_counts_lists_and_marks_read(live_server, page):
    with live_server.app.app_context():
        ann = make_user("ann@example.com", display_name="Ann Admin", is_admin=True)
        sam_id = make_user("sam@example.com", display_name="Sam Staff", is_admin=True).id
        service.create_entity(
            "account",
            "Account",
            fields=[{"key": "name", "type": "text", "label": "Company name", "required": True}],
            name_field="name",
        )
        spec = specs.current().entity("account")
        acc = records.create(ann, spec, {"name": "Globex"})
        for subject in ("Send the offer", "Call the buyer"):
            activities.add_task(
                ann, spec, acc, subject=subject, due_date=date(2030, 1, 31), assignee_id=sam_id
            )
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    badge = page.locator("#bell-count")
    expect(badge).to_have_text("2")
    page.get_by_role("link", name="Notifications").click()
    page.wait_for_url("**/notifications/")
    first = page.locator("li.notification", has_text="Call the buyer")
    expect(first).to_have_class("notification unread")
    screenshot(page, "notifications-list")
    first.get_by_role("button", name="Mark read").click()
    expect(page.locator("li.notification", has_text="Call the buyer")).to_have_class("notification")
    expect(badge).to_have_text("1")
    page.get_by_role("link", name="Ann Admin assigned you a task: Send the offer").click()
    page.wait_for_url(f"**/r/account/{acc}")
    expect(page.locator("#bell-count")).to_be_hidden()
    page.goto(url + "/account/notifications")
    page.get_by_label("Automation rules: messages a rule sends me").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your e-mail choices are saved.")).to_be_visible()
    expect(page.get_by_label("Automation rules: messages a rule sends me")).to_be_checked()
    screenshot(page, "notifications-email-choices")


def test_the_mail_settings_and_the_outbox(live_server, page):
    with live_server.app.app_context():
        make_user("ann@example.com", display_name="Ann Admin", is_admin=True)
    url = live_server.url
    sign_in(page, url, "ann@example.com")
    page.get_by_title("Administration").click()  # the gear in the bar
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Configuration"
    ).click()
    page.get_by_role("link", name="E-mail", exact=True).click()
    page.wait_for_url("**/admin/mail/settings/")
    page.get_by_label("Send a test e-mail to").fill("ops@example.com")
    page.get_by_role("button", name="Send a test e-mail").click()
    expect(page.get_by_text("No SMTP host is set: the test e-mail is kept")).to_be_visible()
    page.get_by_label("SMTP host").fill("smtp.example.com")
    page.get_by_label("Security").select_option("starttls")
    page.get_by_label("Password").fill("s3cret-Pa55")
    page.get_by_label("Sender address").fill("crm@example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The e-mail settings are saved.")).to_be_visible()
    expect(page.get_by_text("A password is stored; it is never shown.")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    screenshot(page, "mail-settings")
    page.get_by_role("link", name="Outbox").click()
    row = page.locator("tr", has_text="ops@example.com")
    expect(row.get_by_text("Kept")).to_be_visible()
    screenshot(page, "mail-outbox")
    row.get_by_role("link").click()
    expect(page.locator("pre.mail-body")).to_contain_text("This is a test e-mail")
