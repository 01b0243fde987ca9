"""A staff member works in the runtime, in Chromium: searches and filters a list, creates a
contact whose account is quick-created from the lookup, edits a value in place and sees it
in the timeline; then acts on several records at once and saves a view of their own."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.access.models import User
from crm.extensions import db
from crm.metadata import list_views as lv
from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _setup(app) -> dict[str, int]:
    """The users, entities and accounts of these tests; returns the accounts' ids by name."""
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        staff = make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account",
            "Account",
            color="teal",
            fields=[
                {"key": "name", "type": "text", "label": "Company name", "required": True,
                 "searchable": True},
                {"key": "industry", "type": "picklist", "label": "Industry",
                 "choices": [{"key": "retail", "label": "Retail", "color": "pink"},
                             {"key": "tech", "label": "Tech", "color": "indigo"},
                             {"key": "energy", "label": "Energy", "color": "amber"}]},
                {"key": "employees", "type": "integer", "label": "Employees"},
                {"key": "website", "type": "url", "label": "Website"},
            ],
            name_field="name",
            actor_id=admin.id,
        )  # fmt: skip
        service.create_entity(
            "contact",
            "Contact",
            color="blue",
            fields=[
                {"key": "full_name", "type": "text", "label": "Full name", "required": True,
                 "searchable": True},
                {"key": "account", "type": "lookup", "label": "Account",
                 "options": {"target": "account"}},
                {"key": "email", "type": "email", "label": "E-mail"},
                {"key": "title", "type": "text", "label": "Job title"},
            ],
            name_field="full_name",
            actor_id=admin.id,
        )  # fmt: skip
        lv.save_shared_view(
            "account",
            {
                "name": "Tech accounts",
                "columns": ["name", "industry", "employees", "owner_id"],
                "sort": [["name", "asc"]],
                "filters": [{"field": "industry", "op": "in", "value": ["tech"]}],
            },
            actor_id=admin.id,
        )
        account = specs.current().entity("account")
        ids = {}
        for name, industry, employees in [
            ("Acme Tools", "retail", "120"),
            ("Globex", "tech", "4300"),
            ("Initech", "tech", "870"),
            ("Müller & Söhne GmbH", "energy", "55"),
            ("北京科技", "tech", "2100"),
            ("<b>Not bold</b> Ltd", "retail", "12"),
        ]:
            ids[name] = records.create(
                staff, account, {"name": name, "industry": industry, "employees": employees}
            )
        return ids


def _rows(page):
    return page.locator("#rows tr:not(.more-row) td:nth-child(2)")


def test_search_filter_quick_create_inline_edit_and_timeline(live_server, page):
    _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")

    # --- the list: search as you type, then a view with a filter ---
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    page.wait_for_url("**/r/account/")
    expect(_rows(page)).to_have_count(6)
    # Markup in a value is text.
    expect(page.get_by_role("link", name="<b>Not bold</b> Ltd")).to_be_visible()
    screenshot(page, "runtime-list")
    page.get_by_label("Search").fill("glob")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_have_text("Globex")
    page.wait_for_url("**/r/account/?q=glob**")
    screenshot(page, "runtime-list-search")
    page.get_by_label("Search").fill("")
    expect(_rows(page)).to_have_count(6)
    page.get_by_label("List view").select_option(label="Tech accounts")
    expect(_rows(page)).to_have_count(3)
    expect(page.get_by_text("Industry is one of Tech")).to_be_visible()
    assert _rows(page).all_inner_texts() == ["Globex", "Initech", "北京科技"]
    screenshot(page, "runtime-list-filter")

    # --- a contact whose account is created on the spot ---
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    page.wait_for_url("**/r/contact/")
    page.get_by_role("link", name="New Contact").click()
    page.wait_for_url("**/r/contact/new")
    page.get_by_label("Full name").fill("Li Wei 李伟")
    # Validation on blur: a wrong e-mail is reported as soon as the field is left.
    page.get_by_label("E-mail").fill("li.wei(at)example")
    page.get_by_label("Job title").focus()
    email_msg = page.locator("#f-email-msg")
    expect(email_msg).to_contain_text("@-sign")
    expect(page.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "runtime-form-blur-error")
    page.get_by_label("E-mail").fill("li.wei@example.cn")
    page.get_by_label("Job title").focus()
    expect(email_msg).to_be_empty()

    page.get_by_role("link", name="+ New Account").click()
    dialog = page.locator("#quick-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="New account")).to_be_visible()
    # Required, checked on blur inside the dialog too.
    dialog.get_by_label("Company name").focus()
    dialog.get_by_label("Industry").focus()
    expect(dialog.locator("#q-name-msg")).to_contain_text("This field is required.")
    dialog.get_by_label("Company name").fill("Umbrella 株式会社")
    dialog.get_by_label("Industry").focus()
    dialog.get_by_label("Industry").select_option("energy")
    expect(dialog.locator("#q-name-msg")).to_be_empty()
    screenshot(page, "runtime-quick-create-dialog")
    dialog.get_by_role("button", name="Create account").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Account", exact=True)).to_have_value("Umbrella 株式会社")
    expect(page.locator("#messages")).to_contain_text("Account Umbrella 株式会社 created.")
    screenshot(page, "runtime-form-lookup-filled")
    page.get_by_role("button", name="Create contact").click()
    page.wait_for_url(re.compile(r".*/r/contact/\d+$"))
    expect(page.get_by_role("heading", name="Li Wei 李伟")).to_be_visible()
    expect(page.get_by_role("link", name="Umbrella 株式会社")).to_be_visible()

    # --- inline edit on the record page ---
    title_value = page.locator("#fv-title")
    title_value.hover()
    page.get_by_role("link", name="Edit Job title").click()
    editor = page.locator("form#fv-title")
    expect(editor.get_by_label("Job title")).to_be_focused()
    editor.get_by_label("Job title").fill("Head of <Sales>")
    page.keyboard.press("Escape")  # changed my mind: the value comes back untouched
    expect(page.locator("form#fv-title")).to_have_count(0)
    expect(title_value).to_contain_text("—")
    title_value.hover()
    page.get_by_role("link", name="Edit Job title").click()
    editor.get_by_label("Job title").fill("Head of <Sales>")
    screenshot(page, "runtime-inline-edit")
    editor.get_by_role("button", name="Save").click()
    expect(page.locator("div#fv-title")).to_contain_text("Head of <Sales>")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Job title:")
    expect(timeline.locator("ins").first).to_have_text("Head of <Sales>")
    expect(page.locator("#record-title")).to_contain_text("version 2")
    screenshot(page, "runtime-inline-saved-timeline")

    # A bad value is explained in place and nothing is saved.
    page.locator("#fv-email").hover()
    page.get_by_role("link", name="Edit E-mail").click()
    page.locator("form#fv-email").get_by_label("E-mail").fill("nope")
    page.locator("form#fv-email").get_by_role("button", name="Save").click()
    expect(page.locator("form#fv-email .errors")).to_contain_text("@-sign")
    screenshot(page, "runtime-inline-error")
    page.keyboard.press("Escape")
    expect(page.locator("div#fv-email")).to_contain_text("li.wei@example.cn")


def test_inline_conflict_lets_the_user_choose(live_server, page):
    globex = _setup(live_server.app)["Globex"]
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + f"/r/account/{globex}")
    page.locator("#fv-employees").hover()
    page.get_by_role("link", name="Edit Employees").click()
    form = page.locator("form#fv-employees")
    expect(form.get_by_label("Employees")).to_be_visible()  # opened at version 1
    # Meanwhile someone else saves the record.
    with live_server.app.app_context():
        ada = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        records.update_record(
            ada,
            specs.current().entity("account"),
            globex,
            {"employees": "5000"},
            expected_version=1,
        )
    form.get_by_label("Employees").fill("4400")
    form.get_by_role("button", name="Save").click()
    conflict = page.locator(".inline-conflict")
    expect(conflict).to_contain_text("Ada Admin saved this record after you opened")
    expect(conflict).to_contain_text("5,000")
    expect(conflict).to_contain_text("4,400")
    screenshot(page, "runtime-inline-conflict")
    conflict.get_by_role("button", name="Overwrite with mine").click()
    expect(page.locator("div#fv-employees")).to_contain_text("4,400")
    expect(page.locator("#timeline")).to_contain_text("5,000")


def test_bulk_actions_and_save_this_view(live_server, page):
    _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + "/r/account/?sort=name")
    bar = page.locator("#bulk-form")
    expect(bar).to_contain_text("Tick rows to change")
    page.get_by_label("Select Acme Tools").check()
    page.get_by_label("Select Globex").check()
    expect(bar.locator("[data-bulk-count]")).to_have_text("2")
    page.get_by_label("Field to change").select_option(label="Industry")
    new_value = page.get_by_label("New Industry")
    expect(new_value).to_be_visible()
    new_value.select_option("energy")
    screenshot(page, "runtime-bulk-bar")
    bar.get_by_role("button", name="Apply").click()
    expect(page.locator("#bulk-result")).to_contain_text("2 Accounts updated.")
    expect(page.locator("#rows")).to_contain_text("Energy")
    expect(bar.locator("[data-bulk-count]")).to_have_text("0")
    screenshot(page, "runtime-bulk-done")

    # Select all on this page, then reassign.
    page.get_by_label("Select all on this page").check()
    expect(bar.locator("[data-bulk-count]")).to_have_text("6")
    bar.get_by_label("New owner").select_option(label="Ada Admin")
    bar.get_by_role("button", name="Assign").click()
    expect(page.locator("#bulk-result")).to_contain_text("6 Accounts reassigned.")
    expect(bar.locator("[data-bulk-count]")).to_have_text("0")  # the list was reloaded

    # Delete asks first.
    page.get_by_label("Select Initech").check()
    page.once("dialog", lambda d: d.accept())
    bar.get_by_role("button", name="Delete").click()
    expect(page.locator("#bulk-result")).to_contain_text("1 Account moved to the recycle bin.")
    expect(page.get_by_label("Select Initech")).to_have_count(0)

    # Save this view: a filter from the URL and the sort are kept.
    page.goto(url + "/r/account/?f.industry.in=energy&sort=-name")
    page.locator("summary", has_text="Save view").click()
    page.get_by_label("Name of the view").fill("Energy, Z to A")
    screenshot(page, "runtime-save-view")
    page.locator("#save-view-form").get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*view=\d+"))
    expect(page.get_by_label("List view")).to_contain_text("Energy, Z to A (mine)")
    assert _rows(page).all_inner_texts() == ["Müller & Söhne GmbH", "Globex", "Acme Tools"]
    screenshot(page, "runtime-saved-view")


def test_runtime_on_a_phone(live_server, browser):
    _setup(live_server.app)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, live_server.url, "sam@example.com")
    page.goto(live_server.url + "/r/account/")
    page.get_by_label("Select Globex").check()
    page.get_by_label("Field to change").select_option(label="Industry")
    expect(page.get_by_label("New Industry")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "runtime-list-phone")
    page.goto(live_server.url + "/r/contact/new")
    page.get_by_role("link", name="+ New Account").click()
    expect(page.locator("#quick-dialog")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "runtime-quick-create-phone")
    context.close()
