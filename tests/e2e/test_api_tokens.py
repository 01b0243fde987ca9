"""API tokens in Chromium: from the account menu, create a read-only token limited to one
entity, see it once, use it on the API, revoke it; the administrators' list."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _status(url: str, secret: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}"})  # noqa: S310 - local server
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - local server
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_create_use_and_revoke_a_token(live_server, page):
    with live_server.app.app_context():
        make_user("ann@example.com", display_name="Ann Admin", is_admin=True)
        service.create_entity(
            "account",
            "Account",
            fields=[{"key": "name", "type": "text", "label": "Company name", "required": True}],
            name_field="name",
        )
    url = live_server.url
    sign_in(page, url, "ann@example.com")
    page.locator("summary[title='Your account']").click()
    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url("**/account/api-tokens/")
    expect(page.get_by_text("You have no API token.")).to_be_visible()
    page.get_by_label("Name").fill("Website form")
    page.get_by_label("Expires after (days)").fill("30")
    page.get_by_label("Read-only").check()
    page.get_by_label("Accounts").check()
    page.get_by_role("button", name="Create token").click()
    secret_box = page.locator("#token-secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.inner_text()
    assert secret.startswith("atl_")
    screenshot(page, "api-tokens-created")
    assert _status(f"{url}/api/v1/me", secret) == 200
    page.goto(f"{url}/account/api-tokens/")
    expect(page.locator("#token-secret")).to_have_count(0)
    row = page.locator("tr", has_text="Website form")
    expect(row).to_contain_text("Read-only · account")
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("tr", has_text="Website form")).to_contain_text("Revoked")
    assert _status(f"{url}/api/v1/me", secret) == 401
    page.goto(f"{url}/admin/api-tokens/")
    expect(page.locator("tr", has_text="Website form")).to_contain_text("Ann Admin")
    screenshot(page, "api-tokens-admin")
