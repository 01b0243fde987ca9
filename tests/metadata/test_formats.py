"""Local formats (``crm.metadata.types.l10n``): every number and date type written and
read back in English, Chinese and Spanish; the time-zone rules (midnight, the nights the
clocks change in Madrid); what is refused and how it is said. Pure: no database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from crm import timeutil
from crm.metadata import types
from crm.metadata.spec import FieldSpec
from crm.metadata.types import l10n

LOCALES = ("en", "zh_Hans", "es")
EN, ZH, ES = (l10n.formats(loc, "UTC") for loc in LOCALES)
MADRID = l10n.formats("es", "Europe/Madrid")
SHANGHAI = l10n.formats("zh_Hans", "Asia/Shanghai")
NBSP, NNBSP = "\u00a0", "\u202f"


def spec(type_key: str, **options) -> FieldSpec:
    merged = {**types.get(type_key).default_options, **options}
    return FieldSpec(key=type_key, type=type_key, label=type_key, options=MappingProxyType(merged))


def show(fm: l10n.Formats, type_key: str, value, **options) -> str:
    s = spec(type_key, **options)
    return types.get(type_key).formatter(s, fm)(value)


def read(fm: l10n.Formats, type_key: str, text: str, **options):
    s = spec(type_key, **options)
    return types.get(type_key).parse_input(s, text, fm)


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_key", "value", "options", "en", "zh", "es"),
    [
        ("integer", 1234567, {}, "1,234,567", "1,234,567", "1.234.567"),
        ("integer", -5, {}, "-5", "-5", "-5"),
        ("decimal", Decimal("1234.5"), {}, "1,234.50", "1,234.50", "1.234,50"),
        ("decimal", Decimal("0.1234"), {"decimal_places": 4}, "0.1234", "0.1234", "0,1234"),
        ("currency", Decimal("1234.5"), {"currency": "EUR"},
         "€1,234.50", "€1,234.50", f"1.234,50{NBSP}€"),
        ("currency", Decimal("1234.5"), {"currency": "CNY"},
         "CN¥1,234.50", "¥1,234.50", f"1.234,50{NBSP}CNY"),
        ("currency", Decimal("1234.5"), {"currency": "USD"},
         "$1,234.50", "US$1,234.50", f"1.234,50{NBSP}US$"),
        ("currency", Decimal("-3"), {"currency": "EUR", "decimal_places": 0},
         "-€3", "-€3", f"-3{NBSP}€"),
        ("percent", Decimal("12.50"), {}, "12.5%", "12.5%", f"12,5{NBSP}%"),
        ("percent", Decimal("1500"), {}, "1,500%", "1,500%", f"1.500{NBSP}%"),
        ("date", date(2026, 4, 3), {}, "Apr 3, 2026", "2026年4月3日", "3 abr 2026"),
        ("datetime", datetime(2026, 4, 3, 14, 5), {},
         f"Apr 3, 2026, 2:05{NNBSP}PM", "2026年4月3日 14:05", "3 abr 2026, 14:05"),
        ("boolean", True, {}, "Yes", "Yes", "Yes"),  # words: translated in a request
        ("rating", 3, {}, "3 of 5", "3 of 5", "3 of 5"),
    ],
)  # fmt: skip
def test_each_type_is_written_as_each_language_writes_it(type_key, value, options, en, zh, es):
    assert [show(fm, type_key, value, **options) for fm in (EN, ZH, ES)] == [en, zh, es]


def test_a_moment_is_written_in_the_users_time_zone():
    stored = datetime(2026, 3, 28, 16, 0)  # naive UTC
    assert show(SHANGHAI, "datetime", stored) == "2026年3月29日 00:00"  # past midnight there
    assert show(MADRID, "datetime", stored) == "28 mar 2026, 17:00"
    assert show(EN, "datetime", stored) == f"Mar 28, 2026, 4:00{NNBSP}PM"
    # A day has no time zone: 29 March is 29 March everywhere.
    assert show(SHANGHAI, "date", date(2026, 3, 29)) == show(ZH, "date", date(2026, 3, 29))


def test_madrid_summer_and_winter_time():
    assert show(MADRID, "datetime", datetime(2026, 3, 29, 0, 59)) == "29 mar 2026, 1:59"
    assert show(MADRID, "datetime", datetime(2026, 3, 29, 1, 0)) == "29 mar 2026, 3:00"
    # On 25 October 02:30 happens twice: summer time, then winter time.
    assert show(MADRID, "datetime", datetime(2026, 10, 25, 0, 30)) == "25 oct 2026, 2:30"
    assert show(MADRID, "datetime", datetime(2026, 10, 25, 1, 30)) == "25 oct 2026, 2:30"


# --- reading -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fm", "type_key", "typed", "options", "stored"),
    [
        (ES, "decimal", "1.234,50", {}, Decimal("1234.50")),
        (ES, "decimal", "1234,5", {}, Decimal("1234.50")),
        (ES, "decimal", " 1 234,5 ", {}, Decimal("1234.50")),
        (ES, "decimal", "1234.50", {}, Decimal("1234.50")),  # what browsers and links send
        (ES, "decimal", "12.5", {}, Decimal("12.50")),  # no thousands: a decimal point
        (ES, "decimal", "1.234", {}, Decimal("1234.00")),  # a thousands separator in Spanish
        (ES, "decimal", "1.234", {"decimal_places": 3}, Decimal("1.234")),  # the machine form
        (ES, "currency", "1.234,50 €", {"currency": "EUR"}, Decimal("1234.50")),
        (ES, "currency", "-1.234,50 EUR", {"currency": "EUR"}, Decimal("-1234.50")),
        (ES, "percent", "12,5 %", {}, Decimal("12.50")),
        (ES, "integer", "1.234.567", {}, 1234567),
        (EN, "decimal", "1,234.50", {}, Decimal("1234.50")),
        (EN, "currency", "€1,234.50", {"currency": "EUR"}, Decimal("1234.50")),
        (EN, "currency", "-$5", {"currency": "USD"}, Decimal("-5.00")),
        (EN, "currency", "1234.50 USD", {"currency": "USD"}, Decimal("1234.50")),
        (EN, "integer", "1,234", {}, 1234),
        (ZH, "currency", "¥1,234.50", {"currency": "CNY"}, Decimal("1234.50")),
        (ZH, "decimal", "１２３４．５", {}, Decimal("1234.50")),  # full-width, as an IME types
        (ZH, "percent", "12.5％", {}, Decimal("12.50")),
        (ZH, "rating", "4", {}, 4),
        (ES, "date", "31/12/2026", {}, date(2026, 12, 31)),
        (ES, "date", "3/4/2026", {}, date(2026, 4, 3)),  # day first
        (ES, "date", "3 de abril de 2026", {}, date(2026, 4, 3)),
        (ES, "date", "3 abr 2026", {}, date(2026, 4, 3)),
        (EN, "date", "03/04/2026", {}, date(2026, 3, 4)),  # month first
        (EN, "date", "Apr 3, 2026", {}, date(2026, 4, 3)),
        (ZH, "date", "2026/12/31", {}, date(2026, 12, 31)),
        (ZH, "date", "2026年12月31日", {}, date(2026, 12, 31)),
        (ZH, "date", "2026-12-31", {}, date(2026, 12, 31)),
        (ES, "date", "2026-12-31", {}, date(2026, 12, 31)),  # ISO: <input type=date>
        (EN, "datetime", "12/31/2026 2:30 PM", {}, datetime(2026, 12, 31, 14, 30)),
        (ES, "datetime", "31/12/2026 14:30", {}, datetime(2026, 12, 31, 14, 30)),
        (ZH, "datetime", "2026/12/31 下午2:30", {}, datetime(2026, 12, 31, 14, 30)),
        (ZH, "datetime", "2026-12-31T14:30", {}, datetime(2026, 12, 31, 14, 30)),
        (MADRID, "datetime", "2026-12-31T14:30", {}, datetime(2026, 12, 31, 13, 30)),
        (SHANGHAI, "datetime", "2026-12-31T14:30", {}, datetime(2026, 12, 31, 6, 30)),
        (MADRID, "datetime", "2026-12-31T14:30Z", {}, datetime(2026, 12, 31, 14, 30)),
        (MADRID, "datetime", "2026-12-31T14:30+08:00", {}, datetime(2026, 12, 31, 6, 30)),
    ],
)
def test_what_people_type_is_read_as_their_language_writes_it(fm, type_key, typed, options, stored):
    assert read(fm, type_key, typed, **options) == stored


@pytest.mark.parametrize(
    ("fm", "type_key", "typed", "message"),
    [
        (ES, "decimal", "1,234.50", "Enter a number, such as 1234,50."),  # English form
        (EN, "decimal", "1.234,50", "Enter a number, such as 1234.50."),
        (EN, "decimal", "1,23", "Enter a number, such as 1234.50."),  # not thousands
        (ES, "decimal", "12,3,4", "Enter a number, such as 1234,50."),
        (ES, "decimal", "1.2.3", "Enter a number, such as 1234,50."),
        (ES, "decimal", "doce", "Enter a number, such as 1234,50."),
        (ES, "integer", "12,5", "Enter a whole number."),
        (ES, "decimal", "0,123", "Use at most 2 decimal places."),
        (EN, "currency", "£5", "Enter a number, such as 1234.50."),  # not the field's money
        (ZH, "date", "03/04/2026", "Enter a date such as 2026/12/31 (or 2026-12-31)."),
        (EN, "date", "31/12/2026", "31/12/2026 is not a date. Enter a date such as 12/31/2026"),
        (ES, "date", "30/02/2026", "30/02/2026 is not a date."),
        (ES, "date", "mañana", "Enter a date such as 31/12/2026 (or 2026-12-31)."),
        (ES, "datetime", "31/12/2026", "Enter a date and time such as 31/12/2026 14:30."),
        (EN, "datetime", "12/31/2026 13:30 PM", "is not a date and time."),
        (ES, "datetime", "31/12/2026 25:00", "is not a date and time."),
    ],
)
def test_malformed_input_is_refused_with_the_form_to_use(fm, type_key, typed, message):
    with pytest.raises(ValueError) as exc:
        read(fm, type_key, typed)
    assert message in str(exc.value)


def test_a_time_the_clocks_skip_is_refused_and_one_they_repeat_is_the_first():
    # Madrid, 29 March 2026: 02:00 becomes 03:00; 02:30 never happens.
    with pytest.raises(ValueError) as exc:
        read(MADRID, "datetime", "2026-03-29T02:30")
    assert str(exc.value) == (
        "02:30 does not exist in the time zone Europe/Madrid: the clocks go forward that "
        "night. Enter a time before or after the change."
    )
    assert read(MADRID, "datetime", "2026-03-29T01:59") == datetime(2026, 3, 29, 0, 59)
    assert read(MADRID, "datetime", "2026-03-29T03:00") == datetime(2026, 3, 29, 1, 0)
    # 25 October 2026: 03:00 becomes 02:00; 02:30 happens twice: the first is taken
    # (summer time, UTC+2), as Python and PostgreSQL do.
    assert read(MADRID, "datetime", "25/10/2026 2:30") == datetime(2026, 10, 25, 0, 30)
    assert read(MADRID, "datetime", "25/10/2026 3:30") == datetime(2026, 10, 25, 2, 30)
    # An explicit offset says which one.
    assert read(MADRID, "datetime", "2026-10-25T02:30+01:00") == datetime(2026, 10, 25, 1, 30)


def test_midnight_and_the_users_day():
    # 16:00 UTC on 28 March is midnight in Shanghai: their 29 March starts then.
    assert timeutil.day_start(date(2026, 3, 29), "Asia/Shanghai") == datetime(2026, 3, 28, 16)
    assert timeutil.day_start(date(2026, 3, 29), "Europe/Madrid") == datetime(2026, 3, 28, 23)
    assert timeutil.day_start(date(2026, 3, 30), "Europe/Madrid") == datetime(2026, 3, 29, 22)
    # A day on which the clocks skip midnight itself starts when they land (Santiago).
    assert timeutil.day_start(date(2026, 9, 6), "America/Santiago") == datetime(2026, 9, 6, 4)
    at = datetime(2026, 1, 15, 20, 0)
    assert timeutil.local_today("Asia/Shanghai", at) == date(2026, 1, 16)
    assert timeutil.local_today("Europe/Madrid", at) == date(2026, 1, 15)
    assert read(SHANGHAI, "datetime", "2026/3/29 00:00") == datetime(2026, 3, 28, 16, 0)


def test_machine_forms_are_read_the_same_in_every_language():
    """What ``parse`` reads (stored defaults, history, links) ``parse_input`` reads alike."""
    for fm in (EN, ZH, ES, MADRID, SHANGHAI):
        assert read(fm, "decimal", "1234.56") == Decimal("1234.56")
        assert read(fm, "decimal", "-0.5") == Decimal("-0.50")
        assert read(fm, "decimal", "1.234", decimal_places=3) == Decimal("1.234")
        assert read(fm, "integer", "-42") == -42
        assert read(fm, "date", "2026-12-31") == date(2026, 12, 31)
        assert read(fm, "datetime", "2026-12-31T14:30Z") == datetime(2026, 12, 31, 14, 30)
    # ``parse`` itself stays the machine reader: no language, no zone.
    assert types.get("decimal").parse(spec("decimal"), "1234.5") == Decimal("1234.50")
    with pytest.raises(ValueError):
        types.get("decimal").parse(spec("decimal"), "1.234,50")
    assert types.get("datetime").parse(spec("datetime"), "2026-12-31T14:30") == datetime(
        2026, 12, 31, 14, 30
    )


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("fm", [EN, ZH, ES], ids=LOCALES)
@given(d=st.decimals(min_value=-(10**15) + 1, max_value=10**15 - 1, places=2))
def test_numbers_read_back_as_written(fm, d):
    for type_key, options in (("decimal", {}), ("currency", {"currency": "EUR"})):
        s = spec(type_key, **options)
        ftype = types.get(type_key)
        assert read(fm, type_key, show(fm, type_key, d, **options), **options) == d
        assert read(fm, type_key, ftype.input_value(s, d, fm), **options) == d
    assert read(fm, "percent", show(fm, "percent", d)) == d


@pytest.mark.parametrize("fm", [EN, ZH, ES], ids=LOCALES)
@given(d=st.decimals(min_value=-999999, max_value=999999, places=3))
def test_three_decimal_places_read_back_as_written(fm, d):
    assert read(fm, "decimal", show(fm, "decimal", d, decimal_places=3), decimal_places=3) == d
    plain = types.get("decimal").input_value(spec("decimal", decimal_places=3), d, fm)
    assert read(fm, "decimal", plain, decimal_places=3) == d


@pytest.mark.parametrize("fm", [EN, ZH, ES], ids=LOCALES)
@given(n=st.integers(min_value=types.BIGINT_MIN, max_value=types.BIGINT_MAX))
def test_whole_numbers_read_back_as_written(fm, n):
    assert read(fm, "integer", show(fm, "integer", n)) == n


@pytest.mark.parametrize("fm", [EN, ZH, ES], ids=LOCALES)
@given(day=st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_days_read_back_as_written(fm, day):
    assert read(fm, "date", show(fm, "date", day)) == day
    assert read(fm, "date", fm.date_example(day)) == day


@pytest.mark.parametrize("fm", [EN, ZH, ES, MADRID, SHANGHAI], ids=lambda f: "-".join(f.key))
@given(
    moment=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)).map(
        lambda m: m.replace(second=0, microsecond=0)
    )
)
def test_moments_read_back_as_written_in_the_users_zone(fm, moment):
    local = timeutil.to_local(moment, fm.zone)
    # The second 02:30 of the night the clocks go back reads as the first (the rule).
    assume(timeutil.to_utc(local, fm.zone) == moment)
    assert read(fm, "datetime", show(fm, "datetime", moment)) == moment
    s = spec("datetime")
    assert read(fm, "datetime", types.get("datetime").input_value(s, moment, fm)) == moment


# --- filters and what they keep ------------------------------------------------------------


def test_relative_periods_are_the_users_days():
    at = datetime(2026, 1, 15, 20, 0)  # Thursday 04:00 in Shanghai, Wednesday 21:00 in Madrid
    shanghai_today = timeutil.local_today("Asia/Shanghai", at)
    madrid_today = timeutil.local_today("Europe/Madrid", at)
    assert types.relative_range("today", shanghai_today) == (date(2026, 1, 16), date(2026, 1, 17))
    assert types.relative_range("today", madrid_today) == (date(2026, 1, 15), date(2026, 1, 16))
    # On a date-time column, those days are these moments (UTC):
    assert timeutil.day_span(date(2026, 1, 16), date(2026, 1, 17), "Asia/Shanghai") == (
        datetime(2026, 1, 15, 16),
        datetime(2026, 1, 16, 16),
    )
    assert timeutil.day_span(date(2026, 1, 15), date(2026, 1, 16), "Europe/Madrid") == (
        datetime(2026, 1, 14, 23),
        datetime(2026, 1, 15, 23),
    )


def test_a_day_in_a_zone_that_skips_an_hour_is_23_hours_long():
    start, end = timeutil.day_span(date(2026, 3, 29), date(2026, 3, 30), "Europe/Madrid")
    assert end - start == timedelta(hours=23)
    start, end = timeutil.day_span(date(2026, 10, 25), date(2026, 10, 26), "Europe/Madrid")
    assert end - start == timedelta(hours=25)


def test_unknown_languages_and_zones_fall_back_to_english_and_utc():
    fm = l10n.formats("xx", "Mars/Olympus")
    assert fm.key == ("en", "UTC")
    assert l10n.formats(None, None).key == ("en", "UTC")
    assert l10n.current() is l10n.DEFAULT  # outside a request
