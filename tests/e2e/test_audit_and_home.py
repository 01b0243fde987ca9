"""In Chromium: the home page's entity blocks load, the role editor offers no Import
column, and the access audit log shows a change with its before and after."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.access import roles
from crm.records import service as records
from crm.schema import service as schema
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def test_home_blocks_role_editor_and_audit_log(live_server, page):
    url = live_server.url
    with live_server.app.app_context():
        from crm.metadata import specs

        ada = make_user("ada@example.com", display_name="Ada Admin", is_admin=True, roles=())
        schema.create_entity(
            "deal", "Deal", fields=[{"key": "title", "type": "text", "label": "Title"}]
        )
        for title in ("Harbour lease", "Mill renovation"):
            records.create(ada, specs.current().entity("deal"), {"title": title})
        role = roles.create(ada, name="Sales rep")
        roles.update(ada, role.id, name="Field rep")
        role_id = role.id
    sign_in(page, url, "ada@example.com")

    page.goto(url + "/")
    block = page.locator(".home-entity", has_text="Deals")
    block.get_by_text("2 deals you can see").wait_for()
    expect(block.get_by_role("link", name="Harbour lease")).to_be_visible()
    screenshot(page, "home-entities")

    page.goto(f"{url}/admin/access/roles/{role_id}")
    expect(page.get_by_role("columnheader", name="Read").first).to_be_visible()
    # imports exist (issue 16): the right to import is granted per entity like the others
    expect(page.get_by_role("columnheader", name="Import").first).to_be_visible()
    screenshot(page, "access-role-import")

    page.get_by_role("complementary", name="Access").get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/admin/access/audit")
    row = page.locator("#audit-rows tbody tr", has_text="Field rep").first
    assert "Sales rep → Field rep" in row.inner_text()
    page.get_by_label("Kind").select_option("role")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**kind=role**")
    assert page.locator("#audit-rows tbody tr").count() == 2
    screenshot(page, "access-audit-log")
