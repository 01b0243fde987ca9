"""An implementer brings an updated package into a company in Chromium: uploads it, reads
the plan, resolves a conflict, applies it, and finds the new entity in the navigation."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user
from tests.packages.test_apply import install, package

pytestmark = pytest.mark.e2e

CONFLICT = "/entities/deal/fields/amount/label"


def test_upload_plan_resolve_apply(live_server, page, tmp_path):
    with live_server.app.app_context():
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        install()
        service.update_field("deal", "amount", label="Deal value")  # a local change
    v2 = package("2.0.0")
    v2["entities"]["deal"]["fields"]["amount"]["label"] = "Value"
    v2["entities"]["ticket"] = {
        "label_singular": "Ticket",
        "label_plural": "Tickets",
        "name_field": "subject",
        "fields": {"subject": {"type": "text", "label": "Subject", "position": 10}},
    }
    path = tmp_path / "b2b-sales-2.0.0.json"
    path.write_text(json.dumps(v2), encoding="utf-8")

    sign_in(page, live_server.url, "ada@example.com")
    page.goto(live_server.url + "/admin/packages")
    page.get_by_label("Package file").set_input_files(str(path))
    page.get_by_role("button", name="Show the plan").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Plan: “b2b-sales” 2.0.0")
    expect(page.locator("#pkg-entity-ticket")).to_contain_text("Added")
    conflict = page.locator("tr.pkg-conflict")
    expect(conflict).to_contain_text("Deal value")
    expect(conflict).to_contain_text("Value")
    screenshot(page, "packages-plan")

    # Applying without a choice is refused and says why; nothing changed.
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".notice-error")).to_contain_text("Nothing was changed.")
    expect(page.locator("tr.pkg-conflict")).to_contain_text("choose keep mine or take theirs")

    page.locator("tr.pkg-conflict").get_by_label("Take theirs").check()
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(live_server.url + "/admin/")
    expect(page.locator(".notice-success")).to_contain_text("Applied the package")
    expect(page.locator(".designer-nav")).to_contain_text("Tickets")
    expect(page.locator("header, nav").first).to_contain_text("Tickets")
    screenshot(page, "packages-applied")
