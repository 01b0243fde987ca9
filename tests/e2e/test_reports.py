"""Reports in Chromium: a staff member builds a report (grouping, measure, a second
grouping, chart kinds; htmx refreshes menus and preview), saves it, opens it from the
list of reports and drills down from a cell to a list holding exactly that cell's
records; the builder at desktop and phone width, and in Chinese."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from crm.extensions import db
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
        lin = make_user("lin@example.com", display_name="林小梅")
        lin.locale = "zh_Hans"
        db.session.commit()
        service.create_entity(
            "deal",
            "Deal",
            fields=[
                {"key": "name", "type": "text", "label": "Deal name", "required": True},
                {"key": "amount", "type": "currency", "label": "Amount",
                 "translations": {"label": {"zh_Hans": "金额", "es": "Importe"}}},
                {"key": "status", "type": "picklist", "label": "Status",
                 "translations": {"label": {"zh_Hans": "状态", "es": "Estado"}},
                 "choices": [{"key": "open", "label": "Open", "color": "indigo",
                              "translations": {"label": {"zh_Hans": "进行中"}}},
                             {"key": "won", "label": "Won", "color": "green",
                              "translations": {"label": {"zh_Hans": "赢单"}}},
                             {"key": "lost", "label": "Lost", "color": "pink",
                              "translations": {"label": {"zh_Hans": "输单"}}}]},
                {"key": "closes", "type": "date", "label": "Closes",
                 "translations": {"label": {"zh_Hans": "预计成交", "es": "Cierre"}}},
            ],
            name_field="name",
            actor_id=admin.id,
        )  # fmt: skip
        deal = specs.current().entity("deal")
        statuses = ["open", "won", "lost", "open", "won", "open"]
        for n in range(24):
            who = sam if n % 3 else lin
            records.create(
                who,
                deal,
                {
                    "name": f"Deal {n}",
                    "amount": str(1000 + 250 * n),
                    "status": statuses[n % len(statuses)],
                    "closes": (date(2026, 1, 10) + timedelta(days=23 * n)).isoformat(),
                },
            )


def _choose(page, label: str, option: str) -> None:
    """Choose in one of the builder's menus and wait for htmx's answer."""
    with page.expect_response(lambda r: "/reports/" in r.url and r.request.method == "GET"):
        page.locator("#builder").get_by_label(label, exact=True).select_option(label=option)
    expect(page.locator("#builder .htmx-request")).to_have_count(0)


def test_build_save_and_drill_down(live_server, page):
    _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.locator(".navmenu-toggle").click()  # the top bar's Reports menu
    page.get_by_role("link", name="Reports").first.click()
    page.wait_for_url(url + "/reports/")
    page.get_by_role("link", name="New report").click()

    _choose(page, "Group by 1", "Status")
    expect(page.locator(".report-chart svg rect")).to_have_count(3)
    _choose(page, "Measure 1", "Sum: Amount")
    expect(page.locator(".report-table th").first).to_have_text("Status")
    _choose(page, "Group by 2", "Closes")
    expect(page.locator("#builder").get_by_label("Period")).to_have_value("month")
    _choose(page, "Period", "Quarter")
    _choose(page, "Chart", "Stacked bars")
    expect(page.locator(".chart-legend li").first).to_be_visible()
    screenshot(page, "reports-builder-stacked-1280")

    page.locator(".report-save > summary").click()
    page.get_by_label("Name", exact=True).fill("Amount by status and quarter")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r".*/reports/\d+$"))
    expect(page.get_by_role("heading", name="Amount by status and quarter")).to_be_visible()

    # drill down from a cell of the grid: its list holds exactly the cell's records
    page.goto(url + "/reports/")
    page.get_by_role("link", name="Amount by status and quarter").click()
    page.wait_for_url(re.compile(r".*/reports/\d+$"))
    _choose(page, "Measure 1", "Count")
    cell = page.locator("table.pivot tbody td.num a").first
    n = int(cell.inner_text())
    assert n > 0
    cell.click()
    page.wait_for_url(re.compile(r".*/r/deal/\?.*view=all.*"))
    expect(page.locator("#rows tr:not(.more-row)")).to_have_count(n)

    # a line, a donut and a funnel; then the phone
    page.go_back()
    _choose(page, "Group by 2", "(none)")
    _choose(page, "Chart", "Donut")
    expect(page.locator(".chart-pie path")).to_have_count(3)
    screenshot(page, "reports-builder-donut-1280")
    _choose(page, "Group by 1", "Closes")
    _choose(page, "Period", "Month")
    _choose(page, "Chart", "Line")
    expect(page.locator(".chart-line")).to_have_count(1)
    screenshot(page, "reports-builder-line-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    _choose(page, "Chart", "Bars")
    screenshot(page, "reports-builder-bars-390")


def test_the_builder_in_chinese_on_a_phone(live_server, page):
    _setup(live_server.app)
    url = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, url, "lin@example.com")
    page.goto(
        url + "/reports/new?entity=deal&g1=status&g2=closes&b2=quarter&m=sum:amount&chart=stacked"
    )
    expect(page.locator(".report-chart")).to_be_visible()
    expect(page.locator("table.pivot caption")).to_contain_text("金额")
    screenshot(page, "reports-builder-zh-390")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(url + "/reports/new?entity=deal&g1=closes&b1=month&m=sum:amount&chart=bar")
    screenshot(page, "reports-builder-zh-1280")
