"""The configuration area's "Language and region" page: the company's default language and
time zone, for administrators with the configure right; bad values refused, nothing kept."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm import i18n
from crm.auth import service
from crm.auth.models import AppSetting
from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from tests.factories import make_role, make_user

URL = "/admin/settings/language"


def stored() -> dict[str, str]:
    db.session.rollback()
    keys = (i18n.LOCALE_SETTING, i18n.TIMEZONE_SETTING)
    rows = db.session.scalars(select(AppSetting).where(AppSetting.key.in_(keys)))
    return {row.key: row.value for row in rows}


@pytest.fixture
def configurer(app):
    make_role("Configurer", {}, can_configure=True)
    return make_user("conf@example.com", display_name="Cora", roles=("Configurer",))


def test_the_designer_links_the_page_and_it_shows_the_defaults(admin, login_as):
    client = login_as(admin)
    home = client.get("/admin/").data.decode()
    assert f'href="{URL}"' in home and "Language and region" in home
    page = client.get(URL)
    assert page.status_code == 200
    html = page.data.decode()
    assert '<option selected value="en">English</option>' in html
    assert '<option selected value="UTC">UTC</option>' in html


def test_an_administrator_sets_the_company_defaults_and_they_apply(client, configurer, login_as):
    signed_in = login_as(configurer)
    saved = signed_in.submit(URL, {"locale": "zh_Hans", "timezone": "Asia/Shanghai"})
    assert saved.status_code == 303
    assert stored() == {i18n.LOCALE_SETTING: "zh_Hans", i18n.TIMEZONE_SETTING: "Asia/Shanghai"}
    # Whoever has not chosen follows them: the sign-in page of a browser asking for French,
    # the saved page itself (the configurer chose nothing).
    login = client.get("/login", headers={"Accept-Language": "fr"})
    assert '<html lang="zh-Hans">' in login.data.decode()
    again = signed_in.get(URL, headers={"Accept-Language": "fr"}).data.decode()
    assert "公司的语言和时区已保存。" in again
    assert '<option selected value="Asia/Shanghai">' in again
    # Changing them again updates the same rows.
    assert signed_in.submit(URL, {"locale": "es", "timezone": "Europe/Madrid"}).status_code == 303
    assert stored() == {i18n.LOCALE_SETTING: "es", i18n.TIMEZONE_SETTING: "Europe/Madrid"}


@pytest.mark.parametrize(
    ("values", "bad"),
    [
        ({"locale": "fr", "timezone": "UTC"}, "locale"),
        ({"locale": "", "timezone": "UTC"}, "locale"),
        ({"locale": "es\x00", "timezone": "UTC"}, "locale"),
        ({"locale": "es", "timezone": "Mars/Olympus"}, "timezone"),
        ({"locale": "es", "timezone": ""}, "timezone"),
        ({"locale": "es", "timezone": "../../etc/passwd"}, "timezone"),
        ({"locale": "x" * 5000, "timezone": "y" * 5000}, "locale"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_stored(admin, login_as, values, bad):
    answer = login_as(admin).submit(URL, values)
    assert answer.status_code == 400
    html = answer.data.decode()
    assert "The company defaults were not changed." in html
    message = "languages" if bad == "locale" else "time zones"
    assert f"Choose one of the {message} offered." in html
    assert stored() == {}


def test_without_the_configure_right_nothing_is_shown_or_stored(staff, login_as):
    client = login_as(staff)
    assert client.get(URL).status_code == 403
    assert client.submit(URL, {"locale": "es", "timezone": "UTC"}).status_code == 403
    assert stored() == {}


def test_a_post_without_its_csrf_token_changes_nothing(admin, login_as):
    answer = login_as(admin).post(URL, data={"locale": "es", "timezone": "UTC"})
    assert answer.status_code == 400
    assert stored() == {}


def test_the_service_checks_the_right_itself(app, staff, admin):
    with pytest.raises(Forbidden):
        service.set_company_defaults(staff, locale="es", timezone="UTC")
    with pytest.raises(ValidationFailed) as refused:
        service.set_company_defaults(admin, locale="es", timezone="Nowhere/City")
    assert set(refused.value.errors) == {"timezone"}
    assert stored() == {}
    service.set_company_defaults(admin, locale="es", timezone="America/Mexico_City")
    assert service.company_defaults() == ("es", "America/Mexico_City")


def test_the_page_is_translated(admin, login_as):
    admin.locale = "es"
    db.session.commit()
    html = login_as(admin).get(URL).data.decode()
    assert "Idioma y región" in html and "Idioma predeterminado" in html
    assert "Zona horaria predeterminada" in html
    assert "Language and region" not in html
