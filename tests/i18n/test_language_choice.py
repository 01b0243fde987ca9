"""Which language and time zone a request speaks: the user's choice, the browser's, the
company's; refused values; ``<html lang>``."""

from __future__ import annotations

import pytest

from crm import i18n
from crm.access.models import User
from crm.extensions import db
from crm.uow import unit_of_work


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("es-MX", "es"),
        ("zh-CN", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("zh-TW", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("EN-gb", "en"),
        ("fr-FR", None),
        ("", None),
        ("x" * 100, None),
        ("../../etc", None),
    ],
)
def test_browser_tags_map_onto_the_languages_spoken(tag, expected):
    assert i18n.known_locale(tag) == expected


def test_the_login_page_follows_the_browser(client, staff):
    spanish = client.get("/login", headers={"Accept-Language": "fr;q=1, es-ES;q=0.8, en;q=0.5"})
    assert b'<html lang="es">' in spanish.data
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert b'<html lang="zh-Hans">' in chinese.data
    unknown = client.get("/login", headers={"Accept-Language": "xx-\x00;q=abc"})
    assert unknown.status_code == 200
    assert b'<html lang="en">' in unknown.data


def test_the_company_default_applies_when_the_browser_names_nothing_spoken(client, staff):
    with unit_of_work():
        i18n.set_company_defaults(locale="es", timezone="Europe/Madrid")
    page = client.get("/login", headers={"Accept-Language": "fr"})
    assert b'<html lang="es">' in page.data


def test_a_user_chooses_a_language_that_beats_the_browser(client, staff, login_as):
    login_as(staff, client)
    page = client.get("/account/preferences", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    saved = client.submit(
        "/account/preferences",
        {"locale": "zh_Hans", "timezone": "Asia/Shanghai"},
        headers={"Accept-Language": "en"},
    )
    assert saved.status_code == 303
    db.session.expire_all()
    user = db.session.get(User, staff.id)
    assert (user.locale, user.timezone) == ("zh_Hans", "Asia/Shanghai")
    home = client.get("/", headers={"Accept-Language": "es"})
    assert b'<html lang="zh-Hans">' in home.data
    assert "个人设置".encode() in home.data  # the menu's "Preferences", in Chinese


@pytest.mark.parametrize(
    "values",
    [
        {"locale": "fr", "timezone": ""},
        {"locale": "zh_Hans\x00", "timezone": ""},
        {"locale": "", "timezone": "Mars/Olympus"},
        {"locale": "", "timezone": "../../etc/passwd"},
    ],
)
def test_unknown_languages_and_zones_are_refused_and_nothing_changes(
    client, staff, login_as, values
):
    login_as(staff, client)
    answer = client.submit("/account/preferences", values)
    assert answer.status_code == 400
    assert b"Choose one of the" in answer.data
    db.session.expire_all()
    user = db.session.get(User, staff.id)
    assert (user.locale, user.timezone) == (None, None)


def test_empty_choices_follow_the_browser_and_the_company(client, staff, login_as):
    staff.locale, staff.timezone = "es", "Europe/Madrid"
    db.session.commit()
    login_as(staff, client)
    assert client.submit("/account/preferences", {"locale": "", "timezone": ""}).status_code == 303
    db.session.expire_all()
    user = db.session.get(User, staff.id)
    assert (user.locale, user.timezone) == (None, None)
    page = client.get("/", headers={"Accept-Language": "zh-CN"})
    assert b'<html lang="zh-Hans">' in page.data


def test_a_company_default_reaches_a_worker_that_had_compiled_before(client, staff):
    assert b'<html lang="en">' in client.get("/login").data  # compiled, cached
    with unit_of_work():
        i18n.set_company_defaults(locale="zh_Hans", timezone=None)
    assert b'<html lang="zh-Hans">' in client.get("/login").data
    with unit_of_work():
        i18n.set_company_defaults(locale=None, timezone=None)
    assert b'<html lang="en">' in client.get("/login").data
