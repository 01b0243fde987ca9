"""In Chromium: an administrator reads the webhook log, opens a refused delivery and its
payload, allows the private host, retries it, and sees it sent to a local receiver."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.uow import unit_of_work
from crm.webhooks import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user
from tests.webhooks.conftest import receiver  # noqa: F401 - the local receiver fixture

pytestmark = pytest.mark.e2e


def test_log_payload_allowed_host_and_retry(live_server, page, receiver):  # noqa: F811
    url = live_server.url
    with live_server.app.app_context():
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True, roles=())
        with unit_of_work():
            d = service.queue(
                f"http://127.0.0.1:{receiver.port}/hook", "deal.won",
                {"deal": {"id": 7, "title": "Harbour lease"}}, "secret",
            )  # fmt: skip
            delivery_id = d.id
    sign_in(page, url, "ada@example.com")

    page.goto(url + "/admin/webhooks/")
    row = page.locator("tr", has_text="deal.won")
    expect(row.get_by_text("Refused")).to_be_visible()
    screenshot(page, "webhooks-log")

    row.get_by_role("link", name=str(delivery_id)).click()
    expect(page.get_by_text("Harbour lease")).to_be_visible()
    expect(page.get_by_text("private or local address")).to_be_visible()
    screenshot(page, "webhooks-delivery-refused")

    page.goto(url + "/admin/webhooks/hosts")
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text("Webhooks may now call 127.0.0.1.")).to_be_visible()
    screenshot(page, "webhooks-hosts")

    page.goto(f"{url}/admin/webhooks/{delivery_id}")
    page.get_by_role("button", name="Retry now").click()
    expect(page.get_by_text("The delivery is queued again.")).to_be_visible()
    expect(page.locator("h1").get_by_text("Sent")).to_be_visible()
    screenshot(page, "webhooks-delivery-sent")
    assert len(receiver.requests) == 1
