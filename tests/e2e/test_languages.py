"""The interface in Chinese and Spanish, in Chromium (issue 13): a staff member switches
their language on the preferences page and works a list, a form and a record in it; an
administrator works the designer in each; the log-in page follows the browser's language.

Assertions are on the interface's own words (navigation, buttons, messages), on how numbers
and dates are written and read, and on the data stored; never on entity or field labels,
which administrators name (the entity here is "Deal" in every language). Screenshots go to
``test-artifacts/screenshots/lang-*.png`` for a person to look at (CJK must render).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.access.models import User
from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from crm.records.query import table_of
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.e2e


def _setup(app, *, staff_locale: str | None = None) -> None:
    """An administrator, a staff member (English unless ``staff_locale``) and three deals."""
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        staff = make_user("sam@example.com", display_name="Sam Staff")
        staff.locale = staff_locale
        db.session.commit()
        service.create_entity(
            "deal",
            "Deal",
            fields=[
                {"key": "name", "type": "text", "label": "Name", "required": True,
                 "searchable": True},
                {"key": "industry", "type": "picklist", "label": "Industry",
                 "choices": [{"key": "retail", "label": "Retail"},
                             {"key": "tech", "label": "Tech"}]},
                {"key": "amount", "type": "decimal", "label": "Amount"},
                {"key": "closes", "type": "date", "label": "Closes on"},
            ],
            name_field="name",
            actor_id=admin.id,
        )  # fmt: skip
        deal = specs.current().entity("deal")
        for name, industry, amount, closes in [
            ("Acme", "retail", "12", "2026-01-15"),
            ("Globex", "tech", "1234.5", "2026-04-03"),
            ("Initech", "tech", "98765.4", None),
        ]:
            values = {"name": name, "industry": industry, "amount": amount, "closes": closes}
            records.create(staff, deal, values)


def _stored(app, name: str) -> dict | None:
    """The deal called ``name`` as the database holds it."""
    with app.app_context():
        table = table_of(specs.current().entity("deal"))
        row = db.session.execute(select(table).where(table.c.name == name)).mappings().first()
        return dict(row) if row else None


def _count(app) -> int:
    with app.app_context():
        table = table_of(specs.current().entity("deal"))
        return len(db.session.execute(select(table.c.id)).all())


def _names(page):
    return page.locator("#rows tr:not(.more-row) td:nth-child(2)")


def _cells(page, column: int):
    return page.locator(f"#rows tr:not(.more-row) td:nth-child({column})")


def _html_lang(page) -> str:
    return page.locator("html").get_attribute("lang")


def _choose(page, label: str, option: str) -> None:
    """Choose in one of the filter builder's selects and wait for htmx's answer."""
    with page.expect_response(lambda r: "/filter-input" in r.url):
        page.locator("#filter-panel").get_by_label(label).select_option(label=option)
    expect(page.locator("#filter-panel .htmx-request")).to_have_count(0)


def _choose_language(page, language: str, zone: str, save: str) -> None:
    page.locator("#locale").select_option(label=language)
    page.locator("#timezone").select_option(zone)
    page.get_by_role("button", name=save, exact=True).click()
    page.wait_for_url("**/account/preferences")


def _weight(locator) -> str:
    return locator.evaluate("el => getComputedStyle(el).fontWeight")


def _fits(page) -> None:
    """Nothing sticks out sideways (a long translation pushing the page wider)."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# --- 1. Chinese --------------------------------------------------------------------------


def test_a_staff_member_switches_to_chinese_and_works_a_list_and_a_form(live_server, page):
    app, url = live_server.app, live_server.url
    _setup(app)
    sign_in(page, url, "sam@example.com")
    assert _html_lang(page) == "en"

    page.get_by_title("Your account").click()  # the menu on one's name
    page.get_by_role("link", name="Preferences").click()
    _choose_language(page, "中文（简体）", "Asia/Shanghai", "Save")
    # This very answer is in Chinese: the page, the message and the chrome.
    assert _html_lang(page) == "zh-Hans"
    expect(page.get_by_role("status")).to_have_text("个人设置已保存。")
    expect(page.get_by_role("heading", name="个人设置")).to_be_visible()
    nav = page.get_by_role("navigation", name="主导航")
    expect(nav.get_by_role("link", name="首页")).to_be_visible()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.get_by_label("语言")).to_have_value("zh_Hans")
    expect(page.get_by_label("时区")).to_have_value("Asia/Shanghai")
    screenshot(page, "lang-zh-preferences")
    with app.app_context():
        sam = db.session.scalar(select(User).where(User.email == "sam@example.com"))
        assert (sam.locale, sam.timezone) == ("zh_Hans", "Asia/Shanghai")

    # --- the list: numbers and dates as Chinese writes them, quick search, a filter ---
    nav.get_by_role("link", name="Deals").click()
    page.wait_for_url("**/r/deal/")
    expect(_names(page)).to_have_count(3)
    expect(page.get_by_role("link", name="新建Deal", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="回收站")).to_be_visible()
    row = page.locator("#rows tr", has_text="Globex")
    expect(row).to_contain_text("1,234.50")
    expect(row).to_contain_text("2026年4月3日")
    page.get_by_label("搜索").fill("glob")
    expect(_names(page)).to_have_text(["Globex"])
    page.wait_for_url(re.compile(r".*q=glob.*"))
    page.get_by_label("搜索").fill("")
    expect(_names(page)).to_have_count(3)

    page.get_by_role("link", name="+ 添加筛选").click()
    panel = page.locator("#filter-panel")
    expect(panel.get_by_label("筛选字段")).to_be_focused()
    _choose(page, "筛选字段", "Industry")
    condition = panel.get_by_label("条件", exact=True)
    expect(condition).to_have_value("in")
    assert condition.evaluate("s => s.options[s.selectedIndex].label") == "属于"
    panel.get_by_label("Tech", exact=True).check()
    screenshot(page, "lang-zh-filter-builder")
    panel.get_by_role("button", name="应用").click()
    page.wait_for_url(re.compile(r".*f\.industry\.in=tech.*"))
    expect(page.locator("#filter-bar .filter-lead")).to_have_text("显示满足以下条件的记录：")
    expect(page.locator("#filter-bar .filter-chip-text")).to_have_text(["Industry 属于 Tech"])
    expect(_names(page)).to_have_count(2)
    assert sorted(_names(page).all_inner_texts()) == ["Globex", "Initech"]
    _fits(page)
    screenshot(page, "lang-zh-list")

    # --- a new record: a number and a date typed the Chinese way, shown the Chinese way ---
    page.get_by_role("link", name="新建Deal", exact=True).click()
    page.wait_for_url("**/r/deal/new")
    expect(page.get_by_role("heading", name="新建deal")).to_be_visible()
    page.get_by_label("Name").fill("华为 深圳")
    page.get_by_label("Amount").fill("12345.6")
    page.get_by_label("Closes on").fill("2026-12-31")  # the date picker sends ISO
    page.get_by_label("Industry").select_option(label="Tech")
    # Chinese fonts with one weight are emboldened only from 650 on: labels and buttons ask
    # for that in Chinese, or their Chinese words stay thin beside bold Latin ones.
    assert _weight(page.get_by_role("button", name="创建deal", exact=True)) == "650"
    assert _weight(page.locator("label[for=f-amount]")) == "650"
    _fits(page)
    screenshot(page, "lang-zh-form")
    page.get_by_role("button", name="创建deal", exact=True).click()
    page.wait_for_url(re.compile(r".*/r/deal/\d+$"))
    expect(page.get_by_role("status")).to_have_text("已创建Deal。")
    expect(page.get_by_role("heading", name="华为 深圳")).to_be_visible()
    details = page.locator("main")
    expect(details).to_contain_text("12,345.60")
    expect(details).to_contain_text("2026年12月31日")
    expect(page.get_by_role("link", name="编辑", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="删除", exact=True)).to_be_visible()
    _fits(page)
    screenshot(page, "lang-zh-record")
    stored = _stored(app, "华为 深圳")
    assert Decimal(str(stored["amount"])) == Decimal("12345.60")
    assert stored["closes"] == date(2026, 12, 31)


# --- 2. Spanish ----------------------------------------------------------------------------


def test_a_staff_member_switches_to_spanish_and_types_numbers_and_dates_the_spanish_way(
    live_server, page
):
    app, url = live_server.app, live_server.url
    _setup(app, staff_locale="zh_Hans")
    sign_in(page, url, "sam@example.com")
    assert _html_lang(page) == "zh-Hans"
    page.get_by_title("我的账号").click()  # the menu on one's name
    page.get_by_role("link", name="个人设置").click()
    _choose_language(page, "Español", "Europe/Madrid", "保存")
    assert _html_lang(page) == "es"
    expect(page.get_by_role("status")).to_have_text("Sus preferencias se han guardado.")
    nav = page.get_by_role("navigation", name="Navegación principal")
    expect(nav.get_by_role("link", name="Inicio")).to_be_visible()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()

    # --- the list: 1.234,50 and 3 abr 2026 ---
    nav.get_by_role("link", name="Deals").click()
    page.wait_for_url("**/r/deal/")
    row = page.locator("#rows tr", has_text="Globex")
    expect(row).to_contain_text("1.234,50")
    expect(row).to_contain_text("3 abr 2026")
    expect(page.locator("#rows tr", has_text="Initech")).to_contain_text("98.765,40")
    expect(page.get_by_role("link", name="+ Añadir filtro")).to_be_visible()
    page.get_by_label("Buscar").fill("acm")
    expect(_names(page)).to_have_text(["Acme"])
    page.wait_for_url(re.compile(r".*q=acm.*"))
    page.get_by_label("Buscar").fill("")
    expect(_names(page)).to_have_count(3)
    _fits(page)
    screenshot(page, "lang-es-list")

    # --- a malformed number: a Spanish message by the field, the date read back, nothing
    #     stored ---
    before = _count(app)
    page.get_by_role("link", name="Crear Deal", exact=True).click()
    page.wait_for_url("**/r/deal/new")
    page.get_by_label("Name").fill("Telefónica")
    page.get_by_label("Amount").fill("1.234,5,0")
    # The day as a Spanish person writes it: a browser without a date picker (or a value
    # pasted where the picker is not used) sends the text as typed; the server reads it.
    page.get_by_label("Closes on").evaluate("el => { el.type = 'text'; }")
    page.get_by_label("Closes on").fill("31/12/2026")
    page.get_by_role("button", name="Crear deal", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        "Hay valores que corregir; consulte los mensajes junto a los campos."
    )
    amount = page.locator(".field", has=page.get_by_label("Amount"))
    expect(amount.locator(".errors")).to_have_text("Introduzca un número, por ejemplo 1234,50.")
    # The form shows what it read: the number as typed by its message; the day in the
    # picker (which takes ISO) and in words.
    expect(page.get_by_label("Amount")).to_have_value("1.234,5,0")
    expect(page.get_by_label("Closes on")).to_have_value("2026-12-31")
    # The message above the form keeps its distance from the first section's title.
    alert_box = page.get_by_role("alert").bounding_box()
    title_box = page.get_by_role("heading", name="Detalles").bounding_box()
    assert title_box["y"] - (alert_box["y"] + alert_box["height"]) >= 12
    assert _weight(page.locator("label[for=f-amount]")) == "600"  # Latin: semibold
    closes = page.locator(".field", has=page.get_by_label("Closes on"))
    expect(closes.locator(".read-as")).to_have_text(
        "Se ha interpretado como 31 de diciembre de 2026."
    )
    _fits(page)
    screenshot(page, "lang-es-form-error")
    assert _count(app) == before
    assert _stored(app, "Telefónica") is None

    # --- fixed: 1.234,50 and 31/12/2026 are 1234.50 and 2026-12-31 ---
    page.get_by_label("Amount").fill("1.234,50")
    screenshot(page, "lang-es-form")
    page.get_by_role("button", name="Crear deal", exact=True).click()
    page.wait_for_url(re.compile(r".*/r/deal/\d+$"))
    expect(page.get_by_role("status")).to_have_text("Registro de Deal creado.")
    expect(page.get_by_role("heading", name="Telefónica")).to_be_visible()
    details = page.locator("main")
    expect(details).to_contain_text("1.234,50")
    expect(details).to_contain_text("31 dic 2026")
    _fits(page)
    screenshot(page, "lang-es-record")
    stored = _stored(app, "Telefónica")
    assert Decimal(str(stored["amount"])) == Decimal("1234.50")
    assert stored["closes"] == date(2026, 12, 31)
    assert _count(app) == before + 1

    # The edit form writes the stored value back the Spanish way.
    page.get_by_role("link", name="Editar", exact=True).first.click()
    page.wait_for_url(re.compile(r".*/r/deal/\d+/edit$"))
    expect(page.get_by_label("Amount")).to_have_value("1234,50")


# --- 3. The designer -------------------------------------------------------------------------


def test_an_administrator_adds_a_picklist_field_in_chinese(live_server, page):
    app, url = live_server.app, live_server.url
    _setup(app)
    with app.app_context():
        ada = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        ada.locale = "zh_Hans"
        db.session.commit()
    sign_in(page, url, "ada@example.com")
    page.get_by_title("管理").click()  # the administration gear
    page.get_by_role("navigation", name="管理").get_by_role("link", name="配置").click()
    page.wait_for_url("**/admin/**")
    expect(page.get_by_role("link", name="新建对象")).to_be_visible()
    page.goto(url + "/admin/entities/deal")
    page.get_by_role("link", name="添加字段").first.click()
    expect(page.get_by_role("heading", name="添加字段")).to_be_visible()
    _fits(page)
    screenshot(page, "lang-zh-designer-field-types")
    page.locator(".type-card", has_text="选项列表").first.click()
    page.wait_for_load_state()
    page.get_by_role("textbox", name="标签", exact=True).fill("阶段")
    page.wait_for_function("() => document.querySelector('#key').value !== ''")
    for i, value in enumerate(["初步接触", "赢单"]):
        rows = page.locator("#choice-rows tr")
        if i >= rows.count():
            page.get_by_role("button", name="添加选项值").click()
            page.wait_for_function(
                f"() => document.querySelectorAll('#choice-rows tr').length > {i}"
            )
        page.locator("#choice-rows tr").nth(i).get_by_label("选项值标签").fill(value)
    _fits(page)
    screenshot(page, "lang-zh-designer-field-editor")
    page.get_by_role("button", name="添加字段").click()
    page.wait_for_url("**/admin/entities/deal")
    expect(page.get_by_role("status")).to_have_text("已添加字段“阶段”，它已出现在表单布局中。")
    _fits(page)
    screenshot(page, "lang-zh-designer-entity")
    with app.app_context():
        (field,) = [f for f in specs.current().entity("deal").fields if f.label == "阶段"]
        assert field.type == "picklist"
        assert [c.label for c in field.choices] == ["初步接触", "赢单"]

    # On the form, with its values.
    page.goto(url + "/r/deal/new")
    stage = page.get_by_label("阶段")
    expect(stage).to_be_visible()
    expect(stage.locator("option")).to_have_text(["—", "初步接触", "赢单"])
    screenshot(page, "lang-zh-designer-form")


def test_an_administrator_edits_a_list_view_in_spanish(live_server, page):
    app, url = live_server.app, live_server.url
    _setup(app)
    with app.app_context():
        ada = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        ada.locale = "es"
        db.session.commit()
    sign_in(page, url, "ada@example.com")
    page.goto(url + "/admin/entities/deal/views/new")
    expect(page.get_by_role("heading", name="Nueva vista de lista")).to_be_visible()
    page.locator("#name").fill("Grandes cuentas")
    page.get_by_role("button", name="Ocultar Closes on").click()
    page.locator("input[name=show][value=owner_id]").check()
    shown = page.locator("#lv-shown-list .lv-col-label")
    expect(shown).to_have_text(["Name", "Industry", "Amount", "Propietario"])
    page.locator("#sort-0-field").select_option("amount")
    page.locator("#sort-0-dir").select_option("desc")
    _fits(page)
    screenshot(page, "lang-es-designer-list-view")
    page.get_by_role("button", name="Guardar vista").click()
    page.wait_for_url("**/admin/entities/deal/views")
    expect(page.get_by_role("status")).to_have_text("Se ha guardado la vista «Grandes cuentas».")
    _fits(page)
    screenshot(page, "lang-es-designer-list-views")

    # The staff list offers it: largest amount first, in Spanish figures.
    page.goto(url + "/r/deal/")
    page.get_by_label("Vista de lista").select_option(label="Grandes cuentas")
    expect(_names(page)).to_have_text(["Initech", "Globex", "Acme"])
    expect(_cells(page, 4)).to_have_text(["98.765,40", "1.234,50", "12,00"])
    expect(_cells(page, 5)).to_have_text(["Sam Staff"] * 3)
    expect(page.locator(".list-count")).not_to_have_text("Contando…")
    screenshot(page, "lang-es-list-view-used")


# --- 4. The log-in page follows the browser --------------------------------------------------


@pytest.mark.parametrize(
    ("browser_locale", "lang", "heading", "email", "password", "button", "home"),
    [
        ("zh-CN", "zh-Hans", "登录 Atelier CRM", "邮箱", "密码", "登录", "首页"),
        (
            "es-ES",
            "es",
            "Inicie sesión en Atelier CRM",
            "Correo electrónico",
            "Contraseña",
            "Iniciar sesión",
            "Inicio",
        ),
    ],
)
def test_the_log_in_page_follows_the_browsers_language(
    live_server, browser, browser_locale, lang, heading, email, password, button, home
):
    with live_server.app.app_context():
        make_user("sam@example.com", display_name="Sam Staff")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=browser_locale)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/login")
        assert _html_lang(page) == lang
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        screenshot(page, f"lang-login-{browser_locale}")
        page.get_by_label(email).fill("sam@example.com")
        page.get_by_label(password).fill(PASSWORD)
        page.get_by_role("button", name=button).click()
        page.wait_for_url(live_server.url + "/")
        assert _html_lang(page) == lang
        expect(page.get_by_role("link", name=home, exact=True)).to_be_visible()
        screenshot(page, f"lang-home-{browser_locale}")
    finally:
        context.close()
