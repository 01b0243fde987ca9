"""The list's bulk bar in Chromium for a Spanish and a Chinese user: the count of ticked rows
is a sentence in their language with the plural form the number takes, kept up to date by
static/js/app.js from the sentences the page carries."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _setup(app, locale: str) -> None:
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        staff = make_user("sam@example.com", display_name="Sam Staff")
        staff.locale = locale
        db.session.commit()
        service.create_entity(
            "account",
            "Account",
            fields=[{"key": "name", "type": "text", "label": "Name", "required": True}],
            name_field="name",
            actor_id=admin.id,
        )
        account = specs.current().entity("account")
        for name in ("Acme", "Globex", "北京科技"):
            records.create(staff, account, {"name": name})


@pytest.mark.parametrize(
    ("locale", "select", "one", "two", "done"),
    [
        ("es", "Seleccionar", "1 seleccionado", "2 seleccionados", "Se movieron 2 registros"),
        ("zh_Hans", "选择", "已选择 1 条", "已选择 2 条", "已将 2 条Accounts移至回收站"),
    ],
)
def test_the_bulk_count_speaks_the_users_language(
    live_server, page, locale, select, one, two, done
):
    _setup(live_server.app, locale)
    sign_in(page, live_server.url, "sam@example.com")
    page.goto(live_server.url + "/r/account/?sort=name")
    count = page.locator("#bulk-form .bulk-count")
    page.get_by_label(f"{select}Acme" if locale == "zh_Hans" else f"{select} Acme").check()
    expect(count).to_have_text(one)
    expect(count.locator("[data-bulk-count]")).to_have_text("1")
    page.get_by_label(f"{select}Globex" if locale == "zh_Hans" else f"{select} Globex").check()
    expect(count).to_have_text(two)
    screenshot(page, f"runtime-bulk-{locale}")
    page.once("dialog", lambda d: d.accept())
    page.locator("#bulk-form button.btn-danger-outline").click()
    expect(page.locator("#bulk-result")).to_contain_text(done)
    expect(count.locator("[data-bulk-count]")).to_have_text("0")
