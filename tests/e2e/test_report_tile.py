"""A saved report on a dashboard, in Chromium: a staff member builds a report in the
builder, saves it, makes a dashboard, puts the report on it from the report's page ("Add
to dashboard"), opens the dashboard (the tile loads itself: chart and table) and drills
down from a cell of the tile to a list holding exactly that cell's records. The dashboard
photographed at desktop and phone width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_reports import _choose, _setup

pytestmark = pytest.mark.e2e


def test_a_report_on_a_dashboard_drills_down(live_server, page):
    _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")

    # a dashboard to put the report on
    page.goto(url + "/analytics/dashboards/")
    page.get_by_label("Name").fill("My reports")
    page.get_by_role("button", name="New dashboard").click()
    expect(page.get_by_role("heading", name="My reports")).to_be_visible()

    # build and save a report
    page.goto(url + "/reports/new")
    _choose(page, "Group by 1", "Status")
    _choose(page, "Measure 1", "Count")
    _choose(page, "Chart", "Bars")
    expect(page.locator(".report-chart svg rect")).to_have_count(3)
    page.locator(".report-save > summary").click()
    page.get_by_label("Name", exact=True).fill("Deals by status")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r".*/reports/\d+$"))

    # from the report's page onto the dashboard
    screenshot(page, "report-tile-add-1280")
    page.get_by_label("Dashboard", exact=True).select_option(label="My reports")
    page.get_by_role("button", name="Add to dashboard").click()
    expect(page.get_by_role("heading", name="My reports")).to_be_visible()
    tile = page.locator(".an-tile-report")
    expect(tile).to_have_count(1)
    expect(tile.locator(".an-tile-title")).to_have_text("Deals by status")
    expect(tile.locator(".report-chart svg rect")).to_have_count(3)
    expect(tile.locator(".report-table tbody tr")).to_have_count(3)
    screenshot(page, "report-tile-dashboard-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(tile.locator(".report-table")).to_be_visible()
    screenshot(page, "report-tile-dashboard-390")
    page.set_viewport_size({"width": 1280, "height": 800})

    # drill down from a cell of the tile's table
    cell = tile.locator(".report-table tbody td.num a").first
    n = int(cell.inner_text())
    assert n > 0
    cell.click()
    page.wait_for_url(re.compile(r".*/r/deal/\?.*view=all.*"))
    expect(page.locator("#rows tr:not(.more-row)")).to_have_count(n)
