"""A rep finds duplicates and merges them in Chromium (issue 18): the duplicates page of
contacts, "Find again" (the background job), a group, the merge page with one field taken
from the record merged away, and the kept record with the other's note on its timeline."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.dedupe import rules
from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from crm.uow import unit_of_work
from tests.e2e.conftest import SCREENSHOTS, screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _setup(app) -> tuple[int, int]:
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        spec = service.create_entity(
            "contact",
            "Contact",
            fields=[
                {"key": "full_name", "type": "text", "label": "Full name", "required": True},
                {"key": "email", "type": "email", "label": "E-mail"},
                {"key": "phone", "type": "phone", "label": "Phone"},
            ],
            name_field="full_name",
            actor_id=admin.id,
        )
        keep = records.create(
            admin, spec, {"full_name": "Ann Lee", "email": "ann@acme.com", "phone": ""}
        )
        other = records.create(
            admin, spec, {"full_name": "Ann Lee", "email": "ANN@acme.com",
                          "phone": "+1 415 555 0101"},
        )  # fmt: skip
        records.create(admin, spec, {"full_name": "Bo Chen", "email": "bo@x.org"})
        records.add_note(admin, spec, other, "Met Ann at the trade fair")
        with unit_of_work():
            for d in rules.person_rules("contact"):
                rules.save(d, specs.current().entity("contact"), None)
        return keep, other


def test_find_duplicates_and_merge_them(live_server, page):
    keep, other = _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "ada@example.com")
    page.goto(f"{url}/r/contact/")
    page.get_by_role("link", name="Duplicates").click()
    expect(page.locator("h1")).to_have_text("Duplicates")
    page.get_by_role("button", name="Find again").click()
    group = page.locator("[data-group]")
    expect(group).to_have_count(1)
    expect(group).to_contain_text("Ann Lee · Ann Lee")
    expect(page.locator("#computed")).to_contain_text("Found on")
    screenshot(page, "dedupe-duplicates")

    group.get_by_role("link", name="Merge…").click()
    expect(page.locator("h1")).to_have_text("Merge 2 contacts")
    table = page.locator(".merge-table")
    expect(table.locator(f'input[name="master"][value="{keep}"]')).to_be_checked()
    # the master's phone is blank: the other's is chosen by default
    expect(table.locator(f'input[name="pick_phone"][value="{other}"]')).to_be_checked()
    table.locator(f'input[name="pick_email"][value="{other}"]').check()
    screenshot(page, "dedupe-merge")
    page.get_by_role("button", name="Merge", exact=True).click()

    expect(page).to_have_url(f"{url}/r/contact/{keep}")
    expect(page.locator(".notice-success").first).to_contain_text("The records were merged.")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Met Ann at the trade fair")
    expect(timeline).to_contain_text("merged with Ann Lee")
    expect(page.locator("main")).to_contain_text("ANN@acme.com")
    screenshot(page, "dedupe-merged-master")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    timeline.screenshot(path=str(SCREENSHOTS / "dedupe-merged-timeline.png"), caret="initial")
