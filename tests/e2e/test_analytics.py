"""A department lead looks at pipeline analytics and the forecast, builds a dashboard of
three tiles (each loads on its own), drags one to another place (the order is saved) and
everything is photographed at desktop and phone width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.analytics.models import Tile
from crm.extensions import db
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_board import drag
from tests.pipeline_analytics.conftest import PERIOD, build_world

pytestmark = pytest.mark.e2e

QS = "?from={from}&to={to}".format(**PERIOD)


def _both_widths(page, name: str) -> None:
    screenshot(page, f"{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-390")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_analytics_forecast_and_dashboard(live_server, page):
    with live_server.app.app_context():
        build_world()
    url = live_server.url
    sign_in(page, url, "max@example.com")
    page.locator(".navmenu-toggle").click()  # the top bar's Reports menu
    page.get_by_role("link", name="Pipeline analytics").click()
    page.goto(url + "/analytics/deal/pipeline" + QS)
    expect(page.locator("#conversion .chart-row")).to_have_count(4)
    expect(page.locator("#time-in-stage > .an-scroll tbody tr")).to_have_count(3)
    expect(page.locator("#win-rate")).to_contain_text("Ann")
    _both_widths(page, "analytics-pipeline")

    page.goto(url + "/analytics/deal/forecast" + QS)
    expect(page.locator("#by-month .chart-row")).to_have_count(3)
    expect(page.locator("#by-owner tbody")).to_contain_text("Bob")
    _both_widths(page, "analytics-forecast")

    page.goto(url + "/analytics/dashboards/")
    page.get_by_label("Name").fill("East pipeline")
    page.get_by_role("button", name="New dashboard").click()
    expect(page.get_by_role("heading", name="East pipeline")).to_be_visible()
    for kind in ("Number: amount won", "Chart: conversion", "Chart: forecast by month"):
        page.get_by_label("Tile").select_option(label=kind)
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.get_by_role("heading", name="East pipeline")).to_be_visible()
    dashboard_url = page.url.split("?")[0]
    page.goto(dashboard_url + QS)
    tiles = page.locator(".an-tile")
    expect(tiles).to_have_count(3)
    expect(page.locator(".an-tile .an-tile-title")).to_have_count(3)  # each loaded itself
    expect(tiles.nth(0)).to_contain_text("Won in Sales")
    first_id = tiles.nth(0).get_attribute("data-tile-id")
    drag(page, tiles.nth(0).locator(".an-handle"), tiles.nth(2))
    expect(page.locator("#order-status")).to_contain_text("Order saved.")
    with live_server.app.app_context():
        order = [str(t.id) for t in db.session.scalars(select(Tile).order_by(Tile.position))]
    assert order[0] != first_id
    page.reload()
    expect(page.locator(".an-tile .an-tile-title")).to_have_count(3)
    _both_widths(page, "analytics-dashboard")
