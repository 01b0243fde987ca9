"""Normal forms duplicate rules compare: what two spellings of the same thing share."""

from __future__ import annotations

import pytest

from crm.dedupe import normalize as n


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("张 三", "张三"),  # a space typed inside a Chinese name
        (" 张\u3000三 ", "张三"),  # an ideographic space and padding
        ("欧阳 娜娜", "欧阳娜娜"),
        ("ＡＢＣ　Ｔｒａｄｉｎｇ", "abc trading"),  # full-width letters and space
        ("１２３", "123"),
        ("José  Núñez-García", "jose nunez garcia"),
        ("STRASSE", "Straße"),
        ("Ødegaard", "odegaard"),
        ("O'Neil, John", "o neil john"),
        ("田中 太郎", "田中太郎"),
        ("김 철수", "김철수"),  # Hangul stays Hangul
    ],
)
def test_text_spellings_meet(a, b):
    assert n.text(a) == n.text(b)


def test_text_keeps_cjk_and_blank_is_empty():
    assert n.text("王伟 Wang Wei") == "王伟 wang wei"
    assert n.text(None) == "" and n.text("  ,.;  ") == ""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("The Acme Co., Ltd.", "acme"),
        ("ACME LIMITED", "acme"),
        ("Acme, Inc.", "acme"),
        ("Acme LLC", "acme"),
        ("Acme Corp.", "acme"),
        ("Siemens AG", "siemens"),
        ("Bosch GmbH & Co. KG", "bosch"),
        ("Telefónica, S.A.", "telefonica"),
        ("Mercadona S.L.", "mercadona"),
        ("Renault SARL", "renault"),
        ("Ferrari S.p.A.", "ferrari"),
        ("Philips N.V.", "philips"),
        ("Heineken B.V.", "heineken"),
        ("Nokia Oy", "nokia"),
        ("Volvo AB", "volvo"),
        ("Grupo Bimbo, S.A.B. de C.V.", "grupo bimbo"),
        ("华为技术有限公司", "华为技术"),
        ("中国平安保险（集团）股份有限公司", "中国平安保险"),
        ("阿里巴巴集团控股有限公司", "阿里巴巴"),
        ("ＴＯＹＯＴＡ株式会社", "toyota"),
        ("Ltd", "ltd"),  # nothing but a legal form: kept, not emptied
    ],
)
def test_company_drops_legal_forms(name, expected):
    assert n.company(name) == expected


@pytest.mark.parametrize(
    ("typed", "region", "e164"),
    [
        ("(415) 555-0123", "US", "+14155550123"),
        ("415.555.0123", "US", "+14155550123"),
        ("+1 415 555 0123", "CN", "+14155550123"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+86 138-0013-8000", "US", "+8613800138000"),
        ("0086 13800138000", "ES", "+8613800138000"),
        ("１３８００１３８０００", "CN", "+8613800138000"),  # full-width digits
        ("912 34 56 78", "ES", "+34912345678"),
        ("+34 912-345-678", "US", "+34912345678"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("030 123456", "DE", "+4930123456"),
    ],
)
def test_phone_e164(typed, region, e164):
    assert n.phone(typed, region) == e164


@pytest.mark.parametrize("typed", ["not a phone", "123", "++--", "", None, "+999 1234 5678"])
def test_unparsable_phone_is_none_not_an_error(typed):
    assert n.phone(typed, "US") is None


def test_phone_region_from_locale():
    assert n.region_for_locale("zh_Hans") == "CN"
    assert n.region_for_locale("es") == "ES"
    assert n.region_for_locale("es_MX") == "MX"
    assert n.region_for_locale("en") == "US"


def test_email():
    assert n.email("  Ana.Lopez@Example.COM ") == "ana.lopez@example.com"
    # Gmail ignores dots and +tags: the same mailbox
    assert n.email("John.Smith+crm@GMail.com") == n.email("johnsmith@googlemail.com")
    # elsewhere dots and tags may be different people: kept
    assert n.email("a.b@example.com") != n.email("ab@example.com")
    assert n.email("a+x@example.com") != n.email("a@example.com")
    assert n.email("no at sign") is None and n.email(None) is None


def test_domain():
    assert n.domain("https://www.Acme.com/about?x=1") == "acme.com"
    assert n.domain("acme.com") == n.domain("http://acme.com:8080/") == "acme.com"
    assert n.domain("sales@acme.com") == "acme.com"
    assert n.domain("n/a") is None


def test_person_name_order_does_not_matter():
    assert n.person_name("Smith John") == n.person_name("John", "Smith") == "john smith"
    assert n.person_name("张 三") == "张三"
