"""The designer's editors speak the administrator's language in the browser too: what their
scripts add (a column, a list-view column's buttons) is named in Chinese or Spanish."""

from __future__ import annotations

import pytest

from crm.extensions import db
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e

WORDS = {
    "zh_Hans": {
        "owner": "负责人",
        "up": "上移负责人",
        "hide": "隐藏负责人",
        "column": "第 3 列",
        "drop": "将字段拖到此处",
    },
    "es": {
        "owner": "Propietario",
        "up": "Subir Propietario",
        "hide": "Ocultar Propietario",
        "column": "Columna 3",
        "drop": "Arrastre los campos aquí",
    },
}


def _setup(app, locale: str) -> None:
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        admin.locale = locale
        db.session.commit()
        service.create_entity(
            "member",
            "会员" if locale == "zh_Hans" else "Socio",
            fields=[
                {
                    "key": "name",
                    "type": "text",
                    "label": "姓名" if locale == "zh_Hans" else "Nombre",
                },
                {
                    "key": "city",
                    "type": "text",
                    "label": "城市" if locale == "zh_Hans" else "Ciudad",
                },
            ],
            actor_id=admin.id,
        )


@pytest.mark.parametrize("locale", ["zh_Hans", "es"])
def test_the_editors_scripts_name_what_they_add_in_the_language(live_server, page, locale):
    _setup(live_server.app, locale)
    url = live_server.url
    words = WORDS[locale]
    sign_in(page, url, "ada@example.com")

    page.goto(url + "/admin/entities/member/views/new")
    page.locator("input[name=show][value=owner_id]").check()
    added = page.locator(".lv-col[data-key=owner_id]")
    assert added.locator(".lv-col-label").inner_text() == words["owner"]
    assert added.locator("[data-lv-move=up]").get_attribute("aria-label") == words["up"]
    assert added.locator("[data-lv-move=remove]").get_attribute("aria-label") == words["hide"]
    screenshot(page, f"designer-list-view-editor-{locale}")

    page.goto(url + "/admin/entities/member/layout")
    page.locator("[data-section-columns]").first.select_option("3")
    third = page.locator("[data-section]").first.locator("[data-column]").nth(2)
    assert third.get_attribute("aria-label") == words["column"]
    page.wait_for_selector(".le-saved")  # saved; the editor came back in the language
    third = page.locator("[data-section]").first.locator("[data-column]").nth(2)
    assert third.get_attribute("aria-label") == words["column"]
    shown = third.evaluate("el => getComputedStyle(el, '::after').content")
    assert shown == f'"{words["drop"]}"'  # what an empty column says, from the page
    screenshot(page, f"designer-layout-editor-{locale}")
