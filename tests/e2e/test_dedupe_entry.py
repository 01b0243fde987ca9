"""A rep types a company name that exists, in Chromium: the live warning names the
duplicate they may see and counts the one they may not; saving is refused with the match
named; they fix the name, the warning goes and the account is created (issue 18)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.access import policy as P
from crm.dedupe import rules
from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from crm.uow import unit_of_work
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_role, make_user

pytestmark = pytest.mark.e2e


def _setup(app) -> None:
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_role("Rep", {"create": P.ALL, "read": P.OWN, "edit": P.OWN})
        rita = make_user("rita@example.com", display_name="Rita Rep", roles=("Rep",))
        sam = make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account",
            "Account",
            color="teal",
            fields=[
                {"key": "name", "type": "text", "label": "Company name", "required": True},
                {"key": "phone", "type": "phone", "label": "Phone"},
                {"key": "website", "type": "url", "label": "Website"},
            ],
            name_field="name",
            actor_id=admin.id,
        )
        account = specs.current().entity("account")
        records.create(rita, account, {"name": "ACME Ltd.", "phone": "+44 20 7946 0000"})
        records.create(sam, account, {"name": "Acme GmbH"})  # Rita cannot see it
        records.create(sam, account, {"name": "Globex"})
        with unit_of_work():
            rules.save(
                {
                    "key": "account_same_name",
                    "name": "Same company name",
                    "conditions": [{"field": "name", "method": "company"}],
                    "action": "block",
                },
                account,
                actor_id=admin.id,
            )


def test_a_rep_sees_the_duplicate_warning_while_typing_and_fixes_the_name(live_server, page):
    _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "rita@example.com")
    page.goto(url + "/r/account/new")
    warning = page.locator("#f-duplicates")
    expect(warning).to_be_empty()

    page.get_by_label("Company name").press_sequentially("Acme", delay=40)
    expect(warning.get_by_text("Possible duplicates")).to_be_visible()
    expect(warning.get_by_role("link", name="ACME Ltd.")).to_be_visible()
    expect(warning.get_by_text("Rule: Same company name")).to_be_visible()
    expect(
        warning.get_by_text("1 other matching record exists that you cannot see.")
    ).to_be_visible()
    expect(warning.get_by_text("Acme GmbH")).to_have_count(0)
    screenshot(page, "dedupe-entry-warning")

    # Saving anyway is refused, the match named by the field; the warning is still there.
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Duplicate of ACME Ltd. (rule: Same company name)")).to_be_visible()
    expect(warning.get_by_role("link", name="ACME Ltd.")).to_be_visible()
    screenshot(page, "dedupe-entry-refused")

    # The rep fixes the name: the warning goes, and the account is created.
    page.get_by_label("Company name").fill("")
    page.get_by_label("Company name").press_sequentially("Acme Robotics", delay=20)
    expect(warning).to_be_empty()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Acme Robotics")).to_be_visible()
    screenshot(page, "dedupe-entry-created")
