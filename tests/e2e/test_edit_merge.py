"""Two people edit one record in Chromium (issue 12, item 1): the first changes Phone and
Tier, the second Phone and Interests. The second is asked about Phone only, formatted as the
record page shows it, beside the value both started from; Tier keeps the first person's
value and the second person's Interests are saved with theirs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _setup(app) -> int:
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_user("sam@example.com", display_name="Sam Staff")
        spec = service.create_entity(
            "member",
            "Member",
            fields=[
                {"key": "name", "type": "text", "label": "Name", "required": True},
                {"key": "phone", "type": "phone", "label": "Phone"},
                {"key": "tier", "type": "picklist", "label": "Tier",
                 "choices": [{"key": "silver", "label": "Silver"},
                             {"key": "gold", "label": "Gold"}]},
                {"key": "interests", "type": "multi_picklist", "label": "Interests",
                 "choices": [{"key": "music", "label": "Music"},
                             {"key": "sport", "label": "Sport"}]},
                {"key": "fee", "type": "currency", "label": "Annual fee",
                 "options": {"currency": "EUR"}},
            ],
            name_field="name",
            actor_id=admin.id,
        )  # fmt: skip
        return records.create(
            admin,
            spec,
            {"name": "Mia Moser", "phone": "+41 44 000 00 00", "tier": "silver",
             "interests": ["music"], "fee": "50"},
        )  # fmt: skip


def test_two_people_edit_one_record(live_server, page, browser):
    member = _setup(live_server.app)
    url = live_server.url
    edit = f"{url}/r/member/{member}/edit"
    other = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    try:
        ada = other.new_page()
        sign_in(ada, url, "ada@example.com")
        sign_in(page, url, "sam@example.com")
        ada.goto(edit)
        page.goto(edit)  # both forms are open at the same version

        ada.get_by_label("Phone").fill("+41 44 111 11 11")
        ada.get_by_label("Tier").select_option("gold")
        ada.get_by_role("button", name="Save").click()
        expect(ada.locator(".notice-success")).to_have_text("Saved.")

        page.get_by_label("Phone").fill("+41 44 222 22 22")
        page.get_by_label("Interests").select_option(["sport"])
        page.get_by_role("button", name="Save").click()

        expect(page.locator("h1")).to_have_text("Mia Moser was changed while you edited it")
        rows = page.locator(".conflict-table tbody tr")
        expect(rows).to_have_count(1)  # Phone only: Tier, Interests, Annual fee merge
        expect(rows.first).to_contain_text("Phone")
        expect(rows.first).to_contain_text("+41 44 000 00 00")  # when opened
        expect(rows.first).to_contain_text("+41 44 111 11 11")  # theirs
        expect(rows.first).to_contain_text("+41 44 222 22 22")  # yours
        expect(page.locator(".page-head")).to_contain_text("Ada Admin saved this member")
        screenshot(page, "record-edit-merge-conflict")

        rows.first.get_by_label("Mine").check()
        page.get_by_role("button", name="Save my choices").click()
        expect(page.locator(".notice-success")).to_have_text(
            "Saved, merged with Ada Admin’s changes."
        )
        body = page.locator("main")
        expect(body).to_contain_text("+41 44 222 22 22")
        expect(body).to_contain_text("Gold")  # Ada's Tier was not reverted
        expect(body).to_contain_text("Sport")
        expect(body).to_contain_text("€50.00")
        screenshot(page, "record-edit-merged")
    finally:
        other.close()
