"""Reports over related records in Chromium: deals grouped by their account's industry
(the builder offers the account's fields under "Account"), and a drill-down from a
related group to the list of exactly its deals."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _setup(app) -> None:
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        sam = make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account", "Account", "Accounts",
            fields=[
                {"key": "name", "type": "text", "label": "Account name", "required": True},
                {"key": "industry", "type": "picklist", "label": "Industry",
                 "choices": [{"key": "tech", "label": "Technology", "color": "indigo"},
                             {"key": "retail", "label": "Retail", "color": "green"}]},
                {"key": "employees", "type": "integer", "label": "Employees"},
            ],
            name_field="name", actor_id=admin.id,
        )  # fmt: skip
        service.create_entity(
            "deal", "Deal", "Deals",
            fields=[
                {"key": "name", "type": "text", "label": "Deal name", "required": True},
                {"key": "amount", "type": "currency", "label": "Amount"},
                {"key": "account", "type": "lookup", "label": "Account",
                 "options": {"target": "account"}},
            ],
            name_field="name", actor_id=admin.id,
        )  # fmt: skip
        account, deal = specs.current().entity("account"), specs.current().entity("deal")
        ids = [
            records.create(sam, account, {"name": f"Account {n}", "employees": str(10 * n),
                                          "industry": ["tech", "retail", None][n % 3]})
            for n in range(6)
        ]  # fmt: skip
        for n in range(18):
            records.create(
                sam, deal,
                {"name": f"Deal {n}", "amount": str(500 + 100 * n), "account": str(ids[n % 6])},
            )  # fmt: skip


def _choose(page, label: str, option: str) -> None:
    with page.expect_response(lambda r: "/reports/" in r.url and r.request.method == "GET"):
        page.locator("#builder").get_by_label(label, exact=True).select_option(label=option)
    expect(page.locator("#builder .htmx-request")).to_have_count(0)


def test_group_by_the_accounts_industry_and_drill_down(live_server, page):
    _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + "/reports/new?entity=deal")
    group = page.locator("#builder").get_by_label("Group by 1", exact=True)
    expect(group.locator('optgroup[label="Account"] option')).not_to_have_count(0)
    _choose(page, "Group by 1", "Account → Industry")
    _choose(page, "Measure 1", "Sum: Account → Employees")
    expect(page.locator(".report-table th").first).to_have_text("Account → Industry")
    expect(page.locator(".report-chart svg rect")).to_have_count(3)
    screenshot(page, "reports-related-1280")
    link = page.locator(".report-table").get_by_role("link").first
    expect(link).to_be_visible()
    _choose(page, "Measure 1", "Count")
    cell = page.locator(".report-table tbody td.num a").first
    n = int(cell.inner_text())
    assert n == 6
    cell.click()
    page.wait_for_url(re.compile(r".*/r/deal/\?.*f\.account\.in=.*"))
    expect(page.locator("#rows tr:not(.more-row)")).to_have_count(n)
