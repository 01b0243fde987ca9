"""A staff member imports a messy CSV in Chromium (issue 16): upload, the reader's guesses,
the mapping with a typo'd picklist value fixed, the dry run, the run's job page, the list
with its error file, undo."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e

MESSY = (
    "\ufeffCompany name;Industry;Employees\r\n"
    "Acme;Tech;10\r\n"
    "Globex;technolgy;20\r\n"
    "Initech;Retail;lots\r\n"
).encode()


def test_import_a_messy_csv_from_the_browser(live_server, page, tmp_path):
    app = live_server.app
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account",
            "Account",
            fields=[
                {"key": "name", "type": "text", "label": "Company name", "required": True},
                {"key": "industry", "type": "picklist", "label": "Industry",
                 "choices": [{"key": "retail", "label": "Retail"},
                             {"key": "tech", "label": "Tech"}]},
                {"key": "employees", "type": "integer", "label": "Employees"},
            ],
            name_field="name",
            actor_id=admin.id,
        )  # fmt: skip
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + "/r/account/")
    page.get_by_role("link", name="Import").click()
    path = tmp_path / "accounts.csv"
    path.write_bytes(MESSY)
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="accounts.csv")).to_be_visible()
    expect(page.locator("select[name=delimiter]")).to_have_value(";")
    page.get_by_label("Import technolgy as").select_option("tech")
    screenshot(page, "import-mapping")
    page.get_by_role("button", name="Preview and dry run").click()
    expect(page.locator(".dry-counts")).to_contain_text("2 to create")
    expect(page.locator(".dry-counts")).to_contain_text("1 in error")
    screenshot(page, "import-dry-run")
    page.get_by_role("button", name="Start the import").click()
    expect(page.locator("#job-status")).to_contain_text("2 created")
    screenshot(page, "import-job")
    page.get_by_role("link", name="See the imports").click()
    row = page.locator("tr[data-import]")
    expect(row).to_contain_text("accounts.csv")
    with page.expect_download() as download:
        row.get_by_role("link", name="1 · error file").click()
    assert "Initech" in download.value.path().read_text(encoding="utf-8-sig")
    screenshot(page, "import-list")
    row.locator("summary", has_text="Undo").click()
    screenshot(page, "import-undo-confirm")
    row.get_by_role("button", name="Yes, undo the import").click()
    expect(page.locator("body")).to_contain_text("2 records sent to the recycle bin")
    screenshot(page, "import-undone")
