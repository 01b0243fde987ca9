"""An administrator maps a contacts file in Chromium with the mapping's actions (issue 16,
mapfix): the owner column, a missing account created by the lookup rule, an unknown
picklist value added as a new choice; the dry run says so, and the import does it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e

CONTACTS = (
    b"Full name,Customer name,Segment,Sales rep\n"
    b"Ada Lovelace,Acme,Retail,sam@example.com\n"
    b"Bob Babbage,Globex,Fintech,Sam Staff\n"
    b"Cy Clerk,acme,Retail,\n"
)


def test_owner_created_account_and_new_choice_from_the_mapping_screen(live_server, page, tmp_path):
    app = live_server.app
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account", "Account",
            fields=[{"key": "name", "type": "text", "label": "Name", "required": True}],
            name_field="name", actor_id=admin.id,
        )  # fmt: skip
        service.create_entity(
            "contact", "Contact",
            fields=[
                {"key": "full_name", "type": "text", "label": "Full name", "required": True},
                {"key": "account", "type": "lookup", "label": "Account",
                 "options": {"target": "account"}},
                {"key": "segment", "type": "picklist", "label": "Segment",
                 "choices": [{"key": "retail", "label": "Retail"}]},
            ],
            name_field="full_name", actor_id=admin.id,
        )  # fmt: skip
    url = live_server.url
    sign_in(page, url, "ada@example.com")
    page.goto(url + "/r/contact/imports/")
    path = tmp_path / "contacts.csv"
    path.write_bytes(CONTACTS)
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="contacts.csv")).to_be_visible()
    # "Customer name" is the contact's company, "Sales rep" the owner
    expect(page.get_by_label("Field for Customer name")).to_have_value("account")
    expect(page.get_by_label("Field for Sales rep")).to_have_value("owner_id")
    page.get_by_label("Import Fintech as").select_option("+new")
    page.locator("select[name=lk-account-none]").select_option("create")
    page.get_by_role("button", name="Preview and dry run").click()
    dry = page.locator("#dry-run")
    expect(dry).to_contain_text("3 rows: 3 to create, 0 to update, 0 to skip, 0 in error.")
    expect(dry).to_contain_text("2 records to create for “Account”.")
    expect(dry).to_contain_text("New choices of “Segment”, added when the import starts: Fintech")
    expect(page.locator("select[name=lk-account-none]")).to_have_value("create")
    rows = dry.locator("tbody tr")
    expect(rows.nth(0)).to_contain_text("Acme (new)")
    expect(rows.nth(0)).to_contain_text("Sam Staff")
    expect(rows.nth(1)).to_contain_text("Fintech (new)")
    expect(rows.nth(2)).to_contain_text("Ada Admin")
    screenshot(page, "import-mapping-actions")
    page.get_by_role("button", name="Start the import").click()
    expect(page.locator("#job-status")).to_contain_text("Created: 3,")
    page.goto(url + "/r/account/")
    expect(page.locator("main")).to_contain_text("Globex")
    page.goto(url + "/r/contact/")
    expect(page.locator("main")).to_contain_text("Fintech")
