"""A rep opens a customer pool's list, claims a record with its button, sees the record
leave the pool and their quota for today drop; then filters the pool and claims two more
together, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.access import policy as P
from crm.metadata import specs
from crm.pools import config, service
from crm.records import service as records
from crm.schema import service as schema
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_department, make_role, make_user

pytestmark = pytest.mark.e2e


def test_a_rep_claims_from_the_pool_and_sees_the_quota_drop(live_server, page):
    with live_server.app.app_context():
        east = make_department("East")
        make_role("Rep", {"read": P.OWN, "edit": P.OWN, "create": P.ALL, "assign": P.OWN})
        make_role("Lead", {"read": P.DEPARTMENT, "edit": P.DEPARTMENT, "assign": P.DEPARTMENT})
        admin = make_user("admin@example.com", is_admin=True)
        ann = make_user("ann@example.com", display_name="Ann", roles=("Rep",), department=east)
        make_user("rita@example.com", display_name="Rita Rep", roles=("Rep",), department=east)
        lead = make_user("max@example.com", display_name="Max", roles=("Lead",), department=east)
        schema.create_entity(
            "account",
            "Account",
            fields=[
                {"key": "name", "type": "text", "label": "Company name", "required": True},
                {"key": "city", "type": "text", "label": "City"},
            ],
            name_field="name",
        )
        config.save(
            admin,
            {"key": "east", "entity_key": "account", "name": "East open sea", "enabled": True,
             "daily_limit": "5", "holding_cap": "20"},
        )  # fmt: skip
        spec = specs.current().entity("account")
        places = [("Globex", "Shanghai"), ("Initech", "Madrid"), ("Umbrella", "Shanghai"),
                  ("Hooli", "Shanghai"), ("Vandelay", "Lyon")]  # fmt: skip
        ids = [records.create(ann, spec, {"name": n, "city": c}) for n, c in places]
        service.return_to_pool(lead, spec, ids, pool_key="east", note="no follow-up")
    url = live_server.url
    sign_in(page, url, "rita@example.com")
    page.goto(url + "/r/account/")
    page.get_by_role("link", name="Pool: East open sea").click()
    expect(page.get_by_role("heading", name="East open sea")).to_be_visible()
    quota = page.locator("#quota")
    expect(quota).to_contain_text("You can claim 5 more today.")
    expect(quota).to_contain_text("You hold 0 of at most 20.")
    rows = page.locator("#rows tr[id^='pool-row-']")
    expect(rows).to_have_count(5)
    screenshot(page, "pools-list")
    # One claim: the row says so, the quota drops without a reload
    row = page.locator("tr", has_text="Globex")
    row.get_by_role("button", name="Claim").click()
    expect(row.get_by_text("Claimed: it is yours now.")).to_be_visible()
    expect(quota).to_contain_text("You can claim 4 more today.")
    expect(quota).to_contain_text("You hold 1 of at most 20.")
    screenshot(page, "pools-claimed")
    # Gone from the pool
    page.reload()
    expect(rows).to_have_count(4)
    expect(page.locator("#rows").get_by_text("Globex")).to_have_count(0)
    # Filter the pool to Shanghai, tick both, claim them together
    page.get_by_role("link", name="+ Add filter").click()
    page.get_by_label("Filter field").select_option("city")
    page.get_by_label("Filter value").fill("Shanghai")
    page.locator("#filter-builder").get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"/r/account/pools/east/\?.*f\.city\.contains=Shanghai"))
    page.locator(".pick-all").check()
    expect(page.locator(".bulk-count")).to_contain_text("2 selected")
    page.get_by_role("button", name="Claim selected").click()
    expect(page.locator("#bulk-result")).to_contain_text("2 records claimed.")
    expect(quota).to_contain_text("You can claim 2 more today.")
    expect(rows).to_have_count(0)
    screenshot(page, "pools-bulk-claimed")
    # They are hers now
    page.goto(url + "/r/account/")
    for name in ("Globex", "Umbrella", "Hooli"):
        expect(page.locator("#rows").get_by_text(name)).to_be_visible()
