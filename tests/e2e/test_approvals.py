"""A stage move waits for the manager's approval: the record shows it waits, the manager
finds the request under "Approvals", approves it with a comment, and the record moves, in
Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.approvals import rules
from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_department, make_record, make_user, stored
from tests.pipelines.factories import make_deal_entity

pytestmark = pytest.mark.e2e


def test_a_held_stage_move_is_approved_by_the_manager(live_server, page):
    with live_server.app.app_context():
        make_deal_entity()
        sales = make_department("Sales")
        mia = make_user("mia@example.com", display_name="Mia Manager", department=sales)
        sales.manager_id = mia.id
        db.session.commit()
        sam = make_user("sam@example.com", display_name="Sam Staff", department=sales)
        admin = make_user("boss@example.com", is_admin=True)
        rules.save(
            admin,
            rules.RuleInput(
                entity_key="deal", name="Proposals need the manager", key="proposal_check",
                trigger={"type": "stage", "stage": "proposal"}, steps=["manager"],
                conditions=[],
            ),
        )  # fmt: skip
        rid = make_record(sam, "deal", {"title": "Globex renewal", "amount": "1200"})
        records.merge_update(
            sam, specs.current().entity("deal"), rid, None, {"stage": "proposal"},
            expected_version=stored("deal", rid)["version"],
        )  # fmt: skip
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + f"/r/deal/{rid}")
    expect(
        page.get_by_text("Waiting for approval (step 1 of 1: Manager (Mia Manager))")
    ).to_be_visible()
    screenshot(page, "approvals-record-waiting")

    page.context.clear_cookies()
    sign_in(page, url, "mia@example.com")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    page.wait_for_url("**/approvals/")
    page.locator("#waiting").get_by_role("link", name="Globex renewal").click()
    expect(page.locator("#change")).to_contain_text("Proposal")
    screenshot(page, "approvals-request")
    page.get_by_label("Comment").fill("Looks right")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved; the change is saved.")).to_be_visible()

    page.goto(url + f"/r/deal/{rid}")
    expect(page.locator("#timeline")).to_contain_text("approved “Proposals need the manager”")
    expect(page.locator("#timeline")).to_contain_text("Looks right")
    screenshot(page, "approvals-record-approved")
    with live_server.app.app_context():
        assert stored("deal", rid)["stage"] == "proposal"
