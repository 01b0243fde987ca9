"""An administrator loads the base data from the go-live checklist in Chromium (issue 16):
from the home page to the checklist, one file per step, the pack run in order, the page
saying what was loaded and what is still missing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user
from tests.records.runtime_model import build_model

pytestmark = pytest.mark.e2e

FILES = {
    "departments.csv": "Name,Parent\nSales,\nEMEA,Sales\nSupport,\n",
    "users.csv": "E-mail,Name,Department,Roles\nann@example.com,Ann Archer,EMEA,Staff\n"
    "bob@example.com,Bob Baker,Support,Staff\n",
    "accounts.csv": "Name,Code,Industry,Owner\nAcme,A1,Tech,ann@example.com\n"
    "Globex,G1,Retail,Bob Baker\n",
    "contacts.csv": "Full name,Account,Owner\nCarla,Acme,ann@example.com\nEve,Initech,\n",
}


def test_load_the_base_data_from_the_checklist(live_server, page, tmp_path):
    app = live_server.app
    with app.app_context():
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        build_model()
    paths = {}
    for name, text in FILES.items():
        paths[name] = tmp_path / name
        paths[name].write_text(text, encoding="utf-8")
    url = live_server.url
    sign_in(page, url, "ada@example.com")
    page.get_by_role("link", name="Open the go-live checklist").click()
    expect(page.get_by_role("heading", name="Go-live checklist")).to_be_visible()
    expect(page.locator(".golive-summary")).to_contain_text("0 of 5 steps loaded")
    screenshot(page, "golive-empty")
    page.get_by_label("File for Departments").set_input_files(str(paths["departments.csv"]))
    page.get_by_label("File for Users").set_input_files(str(paths["users.csv"]))
    page.get_by_label("File for Accounts").set_input_files(str(paths["accounts.csv"]))
    page.get_by_label("File for Contacts").set_input_files(str(paths["contacts.csv"]))
    expect(page.locator('[data-step="account"] .golive-file span')).to_have_text("accounts.csv")
    page.get_by_role("button", name="Import the chosen files").click()
    expect(page.locator("#golive-pack")).to_contain_text("The pack stopped at “Contacts”")
    expect(page.locator('[data-step="@departments"]')).to_contain_text("3 departments")
    expect(page.locator('[data-step="@users"]')).to_contain_text("3 users")
    expect(page.locator('[data-step="account"]')).to_contain_text("2 records")
    contact = page.locator('[data-step="contact"]')
    expect(contact).to_contain_text("1 record")
    expect(contact).to_contain_text("Contacts: 1 row names Accounts that were not found.")
    expect(page.locator(".golive-summary")).to_contain_text("4 of 5 steps loaded")
    screenshot(page, "golive-after-pack")
    with page.expect_download() as download:
        contact.get_by_role("link", name="error file").click()
    assert "Initech" in download.value.path().read_text(encoding="utf-8-sig")
