"""Quick search on a list, in Chromium: a short term reads a bounded number of rows and
says so ("refine your search"), "Search further" looks on; a common term pages in order
with "Show more"; the count is capped and labelled."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.metadata import specs
from crm.records import listing
from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _setup(app) -> None:
    """12 accounts: "Zq Oldest" first, then 11 in Berlin or Lyon (the newest last)."""
    with app.app_context():
        staff = make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account",
            "Account",
            fields=[
                {"key": "name", "type": "text", "label": "Company name", "searchable": True},
                {"key": "city", "type": "text", "label": "City", "searchable": True},
            ],
            name_field="name",
        )
        account = specs.current().entity("account")
        records.create(staff, account, {"name": "Zq Oldest", "city": "Oslo"})
        for i in range(1, 12):
            city = "Berlin" if i % 2 else "Lyon"
            records.create(staff, account, {"name": f"Firm {i:02}", "city": city})


def _names(page):
    return page.locator("#rows tr:not(.more-row) td:nth-child(2)")


def test_short_terms_are_bounded_and_common_ones_page(live_server, page, monkeypatch):
    monkeypatch.setattr(listing, "SHORT_SCAN_ROWS", 5)
    monkeypatch.setattr(listing, "COMMON_MATCHES", 2)
    monkeypatch.setattr(listing, "COUNT_CAP", 4)
    _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + "/r/account/?sort=name")

    # A two-letter term matching only the oldest record: the first 5 rows hold nothing.
    page.get_by_label("Search").fill("zq")
    page.wait_for_url(re.compile(r".*q=zq.*"))
    notice = page.locator(".search-notice")
    expect(notice).to_contain_text("Refine your search: type at least 3 characters")
    expect(page.locator(".list-count")).to_have_text(
        "0+ accounts among the first 5 — type at least 3 characters to search everything"
    )
    screenshot(page, "search-short-term-refine")
    # Sorted by name, "Zq Oldest" is last (12th): two steps of 5 further on, it is found.
    page.get_by_role("link", name="Search further").click()
    expect(page.locator(".search-notice")).to_contain_text("Searched the next 5 accounts")
    page.get_by_role("link", name="Search further").click()
    expect(_names(page)).to_have_text(["Zq Oldest"])
    expect(page.get_by_role("link", name="Search further")).to_have_count(0)
    # A third character searches everything through the index.
    page.get_by_label("Search").fill("zq o")
    expect(_names(page)).to_have_text(["Zq Oldest"])
    expect(page.locator(".search-notice")).to_have_count(0)

    # A common term (6 matches): pages of 3 in the list's order, count capped at 4.
    page.goto(url + "/r/account/?q=berlin&sort=name&size=3")
    expect(_names(page)).to_have_text(["Firm 01", "Firm 03", "Firm 05"])
    expect(page.locator(".list-count")).to_have_text("4+ accounts")
    page.get_by_role("link", name="Show more").click()
    expect(_names(page)).to_have_text(
        ["Firm 01", "Firm 03", "Firm 05", "Firm 07", "Firm 09", "Firm 11"]
    )
    expect(page.get_by_role("link", name="Show more")).to_have_count(0)
    screenshot(page, "search-common-term-paged")
