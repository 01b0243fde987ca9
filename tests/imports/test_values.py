"""Values as people write them in files, read through the field-type registry (issue 16)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType

import pytest

from crm.imports.values import (
    ColumnMap,
    ImportContext,
    ValueProblem,
    guess_date_order,
    guess_decimal_mark,
    parse_row,
    parse_value,
)
from crm.metadata import types
from crm.metadata.spec import Choice, FieldSpec
from crm.metadata.types import l10n

EN = ImportContext()
ES = ImportContext(formats=l10n.formats("es", "Europe/Madrid"))
ZH = ImportContext(formats=l10n.formats("zh_Hans", "Asia/Shanghai"))


def spec(type_key: str, **options) -> FieldSpec:
    return FieldSpec(key="f", type=type_key, label="F", options=options)


DAY, MOMENT = spec("date"), spec("datetime")
DECIMAL, WHOLE = spec("decimal", decimal_places=4), spec("integer")
MONEY, PERCENT = spec("currency", currency="USD", decimal_places=2), spec("percent")
TEXT, YESNO = spec("text"), spec("boolean")


@pytest.mark.parametrize(
    "raw, ctx, expected",
    [
        ("2024-03-01", EN, date(2024, 3, 1)),
        (" 2024/3/1 ", EN, date(2024, 3, 1)),
        ("2024年3月1日", ZH, date(2024, 3, 1)),
        ("11/8/2018", EN, date(2018, 11, 8)),  # the language's order (English: m/d)
        ("11/8/2018", ES, date(2018, 8, 11)),  # (Spanish: d/m)
        ("13/8/2018", EN, date(2018, 8, 13)),  # only one reading fits
        ("8/13/2018", ES, date(2018, 8, 13)),
        ("11/8/2018", ImportContext(date_order="dmy"), date(2018, 8, 11)),  # the column's
        ("20170312", EN, date(2017, 3, 12)),
        ("0", EN, None),
        ("00000000", EN, None),
        ("45000", EN, date(2023, 3, 15)),  # an Excel serial
        (45000, EN, date(2023, 3, 15)),
        (61, EN, date(1900, 3, 1)),
        ("1996-07-04 00:00:00.000", EN, date(1996, 7, 4)),
        ("Apr 3, 2026", EN, date(2026, 4, 3)),
        ("3 abr 2026", ES, date(2026, 4, 3)),
        ("Apr 3, 2026", ES, date(2026, 4, 3)),
        (datetime(2018, 11, 8), EN, date(2018, 11, 8)),
        ("NULL", EN, None),
        (" ", EN, None),
        ("\u00a0", EN, None),
    ],
)
def test_dates(raw, ctx, expected):
    assert parse_value(DAY, raw, ctx) == expected


@pytest.mark.parametrize(
    "raw, ctx, words",
    [
        ("abc", EN, "“abc” is not a date: write it as 2024-03-01."),
        ("2024-02-30", EN, "“2024-02-30” is not a date"),
        ("03/04/2026", ZH, "could be 2026-03-04 or 2026-04-03: choose the order"),
        ("11/18/2018", ImportContext(date_order="dmy"), "not a date in the order day/month/year"),
        ("11/8/18", EN, "is not a date"),
        ("1996-07-04 10:30", EN, "has a time of day"),
        ("2024", EN, "is not a date"),
        (60, EN, "is not a date"),
    ],
)
def test_dates_that_are_refused_say_why(raw, ctx, words):
    with pytest.raises(ValueProblem) as exc:
        parse_value(DAY, raw, ctx)
    assert words in str(exc.value)


def test_zero_as_unknown_can_be_turned_off():
    with pytest.raises(ValueProblem):
        parse_value(DAY, "0", ImportContext(zero_date_is_empty=False, excel_serials=False))


@pytest.mark.parametrize(
    "raw, ctx, expected",
    [
        ("1996-07-04 00:00:00.000", EN, datetime(1996, 7, 4)),
        ("2024-03-01 14:30", ES, datetime(2024, 3, 1, 13, 30)),  # Madrid, winter: UTC+1
        ("1/3/2024 14:30", ES, datetime(2024, 3, 1, 13, 30)),
        ("3/1/2024 2:30 PM", EN, datetime(2024, 3, 1, 14, 30)),
        ("2024-03-01T14:30:00Z", ES, datetime(2024, 3, 1, 14, 30)),
        ("2024-03-01 14:30:00.1234567", EN, datetime(2024, 3, 1, 14, 30, 0, 123456)),
        ("2024-03-01", ZH, datetime(2024, 2, 29, 16, 0)),  # Shanghai midnight
        (datetime(2024, 3, 1, 14, 30), ES, datetime(2024, 3, 1, 13, 30)),
        (45000.5, EN, datetime(2023, 3, 15, 12, 0)),
        ("0", EN, None),
    ],
)
def test_date_and_times(raw, ctx, expected):
    assert parse_value(MOMENT, raw, ctx) == expected


def test_date_and_time_refusals():
    with pytest.raises(ValueProblem, match="is not a date and time"):
        parse_value(MOMENT, "soon", EN)
    with pytest.raises(ValueProblem, match="clocks go forward"):
        parse_value(MOMENT, "2026-03-29 02:30", ES)


@pytest.mark.parametrize(
    "raw, ctx, expected",
    [
        ("1,234.5", EN, Decimal("1234.5")),
        ("1.234,5", EN, Decimal("1234.5")),
        ("1 234,5", EN, Decimal("1234.5")),
        ("1\u00a0234,5", ES, Decimal("1234.5")),
        ("1\u202f234.5", EN, Decimal("1234.5")),
        ("12,345,678.9", EN, Decimal("12345678.9")),
        ("12.345.678", EN, Decimal("12345678")),
        ("$1,234.50", EN, Decimal("1234.5")),
        ("€ 1.234,50", ES, Decimal("1234.5")),
        ("1.234,50 €", ES, Decimal("1234.5")),
        ("¥1,234", ZH, Decimal("1234")),
        ("1234元", ZH, Decimal("1234")),
        ("-1,234.5", EN, Decimal("-1234.5")),
        ("(1,234.00)", EN, Decimal("-1234")),
        ("1234-", EN, Decimal("-1234")),
        ("−5", EN, Decimal("-5")),
        ("1,234", EN, Decimal("1234")),  # the one ambiguity: the language decides ...
        ("1,234", ES, Decimal("1.234")),
        ("1.234", EN, Decimal("1.234")),
        ("1.234", ES, Decimal("1234")),
        ("1,234", ImportContext(decimal_mark=","), Decimal("1.234")),  # ... or the column
        ("0,5", EN, Decimal("0.5")),
        ("0.07200000000000001", EN, Decimal("0.072")),  # float noise
        (0.1 + 0.2, EN, Decimal("0.3")),
        (1234, EN, Decimal("1234")),
        ("１２３４．５", ZH, Decimal("1234.5")),  # full-width
        (" ", EN, None),
        ("N/A", EN, None),
    ],
)
def test_numbers(raw, ctx, expected):
    found = parse_value(DECIMAL, raw, ctx)
    assert found == expected


@pytest.mark.parametrize(
    "field, raw, words",
    [
        (DECIMAL, "abc", "“abc” is not a number: write it as 1234.50."),
        (DECIMAL, "1,23,4", "is not a number"),
        (DECIMAL, "1.2.3,4,5", "is not a number"),
        (DECIMAL, "1.23456", "“1.23456”: Use at most 4 decimal places."),
        (WHOLE, "12.5", "“12.5”: Enter a whole number."),
        (MONEY, "EUR 12", "“EUR 12” is an amount in EUR; this field holds USD."),
        (DECIMAL, "12%", "is not a number"),
        (DECIMAL, True, "is not a number"),
    ],
)
def test_numbers_that_are_refused_say_why(field, raw, words):
    with pytest.raises(ValueProblem) as exc:
        parse_value(field, raw, EN)
    assert words in str(exc.value)


def test_money_percent_and_whole_numbers():
    assert parse_value(MONEY, "USD 1,234.5", EN) == Decimal("1234.50")
    assert parse_value(MONEY, "US$1,234.50", EN) == Decimal("1234.50")
    assert parse_value(PERCENT, "12.5%", EN) == Decimal("12.50")
    assert parse_value(PERCENT, 0.125, ImportContext(percent_fractions=True)) == Decimal("12.50")
    assert parse_value(WHOLE, "1,234", EN) == 1234
    assert parse_value(WHOLE, 3.0, EN) == 3
    assert parse_value(spec("rating"), "4", EN) == 4


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Yes", True), ("no", False), ("1", True), ("0", False), ("TRUE", True),
        ("false", False), ("是", True), ("否", False), ("Sí", True), ("si", True),
        ("No", False), ("Y", True), ("n", False), (1, True), (0, False), (True, True),
        ("ＹＥＳ", True), (" ", None), ("NULL", None),
    ],
)  # fmt: skip
def test_booleans(raw, expected):
    assert parse_value(YESNO, raw, EN) == expected


def test_tri_state_values_are_refused_with_the_words_to_use():
    with pytest.raises(ValueProblem) as exc:
        parse_value(YESNO, "No internet service", EN)
    assert str(exc.value) == "“No internet service” is not yes or no: write Yes or No (or 1 and 0)."
    ctx = ImportContext(false_words=EN.false_words | {"no internet service"})
    assert parse_value(YESNO, "No internet service", ctx) is False


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("000720", "000720"),  # codes keep their leading zeros
        ("  05021 ", "05021"),
        ("新 希 望", "新希望"),  # padding between CJK characters
        ("南 玻Ａ", "南玻Ａ"),
        ("*ST 华 信", "*ST 华信"),
        ("Eldon\u00a0Base for\u00a0stackable", "Eldon Base for stackable"),
        ("\u00a0Ann Lee\u00a0", "Ann Lee"),
        ('=HYPERLINK("http://x","x")', '=HYPERLINK("http://x","x")'),
        ("-2237", "-2237"),
        (720.0, "720"),
        (0.07200000000000001, "0.072"),
        ("null", None),
        ("#N/A", None),
    ],
)
def test_text(raw, expected):
    assert parse_value(TEXT, raw, EN) == expected


def test_cjk_padding_can_be_kept_and_the_empty_words_changed():
    assert parse_value(TEXT, "新 希 望", ImportContext(join_cjk_padding=False)) == "新 希 望"
    ctx = ImportContext(empty_words=frozenset({"-", "none"}))
    assert parse_value(TEXT, "NULL", ctx) == "NULL"
    assert parse_value(TEXT, "-", ctx) is None


def test_long_text_keeps_its_lines_and_other_types_prefix_their_message():
    assert parse_value(spec("long_text"), "a\r\nb", EN) == "a\nb"
    with pytest.raises(ValueProblem) as exc:
        parse_value(TEXT, "x" * 300, EN)
    assert str(exc.value).startswith("“xxxxxxxx") and "Use at most 255 characters." in str(
        exc.value
    )
    with pytest.raises(ValueProblem, match="“not an address”: "):
        parse_value(spec("url"), "not an address", EN)


def choice_field(multi: bool = False) -> FieldSpec:
    return FieldSpec(
        key="product",
        type="multi_picklist" if multi else "picklist",
        label="Product",
        choices=(
            Choice("gtx_pro", "GTX Pro", labels=MappingProxyType({"zh_Hans": "GTX 专业版"})),
            Choice("tech", "Technology", labels=MappingProxyType({"es": "Tecnología"})),
            Choice("old", "Old", archived=True),
        ),
    )


def test_choices_by_key_label_any_language_and_aliases():
    field = choice_field()
    assert parse_value(field, "GTX Pro", EN) == "gtx_pro"
    assert parse_value(field, "gtx pro", EN) == "gtx_pro"
    assert parse_value(field, "GTX 专业版", EN) == "gtx_pro"
    assert parse_value(field, "tecnologia", EN) == "tech"
    assert parse_value(field, "tech", EN) == "tech"
    with pytest.raises(ValueProblem) as exc:
        parse_value(field, "technolgy", EN)
    assert str(exc.value) == "“technolgy” is not one of the choices (GTX Pro, Technology)."
    with pytest.raises(ValueProblem):
        parse_value(field, "Old", EN)  # archived
    ctx = ImportContext(choice_aliases={"product": {"technolgy": "tech", "gtxpro": "gtx_pro"}})
    assert parse_value(field, "technolgy", ctx) == "tech"
    assert parse_value(field, "GTXPro", ctx) == "gtx_pro"
    assert parse_value(choice_field(True), "Technology; GTX Pro|tech", EN) == ["gtx_pro", "tech"]


def test_a_row_reports_every_problem_with_its_field_and_column():
    columns = [
        ColumnMap(0, FieldSpec(key="code", type="text", label="Code")),
        ColumnMap(2, FieldSpec(key="joined", type="date", label="Joined")),
        ColumnMap(3, FieldSpec(key="total", type="decimal", label="Total")),
        ColumnMap(4, FieldSpec(key="active", type="boolean", label="Active")),
    ]
    parsed = parse_row(columns, ("000720", "skip me", "20170312", " ", "Yes"))
    assert parsed.ok
    assert parsed.values == {
        "code": "000720", "joined": date(2017, 3, 12), "total": None, "active": True,
    }  # fmt: skip
    parsed = parse_row(columns, ("A", "", "abc", "12,3x", "maybe"))
    assert not parsed.ok
    assert [(p.field, p.column, p.value) for p in parsed.problems] == [
        ("joined", 3, "abc"),
        ("total", 4, "12,3x"),
        ("active", 5, "maybe"),
    ]
    assert parse_row(columns, ("B",)).values["joined"] is None  # short XLSX rows
    again = parse_row(columns, ("A", "", "abc", "1,5", "Yes"))  # repeated texts: memo
    assert [p.field for p in again.problems] == ["joined"] and again.values["active"] is True
    assert columns[3].memo == {"Yes": True}


def test_column_guesses():
    assert guess_date_order(["11/8/2018", "6/12/2017", "12/25/2018"]) == "mdy"
    assert guess_date_order(["11/8/2018", "25/12/2018"]) == "dmy"
    assert guess_date_order(["11/8/2018", "1/2/2018"]) is None
    assert guess_date_order(["13/1/2018", "1/13/2018"]) is None  # contradictory
    assert guess_decimal_mark(["1,234", "12,5", "3"]) == ","
    assert guess_decimal_mark(["1,234.50", "7"]) == "."
    assert guess_decimal_mark(["1,234", "2,000"]) is None


def test_every_type_reads_file_values_through_its_entry():
    for key, entry in types.REGISTRY.items():
        assert callable(entry.parse_import), key
        assert entry.import_value(spec(key), "NULL", EN) is None, key


def test_messages_are_translated(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("es"):
        with pytest.raises(ValueProblem) as exc:
            parse_value(DAY, "abc", ES)
        assert str(exc.value) == "«abc» no es una fecha: escríbala como 2024-03-01."
    with app.test_request_context(), force_locale("zh_Hans"):
        with pytest.raises(ValueProblem) as exc:
            parse_value(YESNO, "maybe", ZH)
        assert "maybe" in str(exc.value) and "是" in str(exc.value)


@pytest.mark.parametrize(
    "address",
    [
        "Ann.Lee@Example.COM", "user+tag@sub.example.org", "a@b.co", "x_y-z@mail-1.example.io",
        "Info@example.com", "POSTMASTER@example.com", "a@b.test", "x@mail.local",
        "a..b@example.com", ".a@example.com", "a@-x.com", "a@x-.com", "a@x.c", "a@localhost",
        "josé@example.com", "a@exämple.com", "a b@example.com", "a@b@c.com",
    ],
)  # fmt: skip
def test_the_fast_email_check_agrees_with_the_validator(address):
    from crm.metadata.types.text import import_email

    field = spec("email")

    def outcome(parse):
        try:
            return parse(field, address)
        except ValueError:
            return "refused"

    assert outcome(import_email) == outcome(types.get("email").parse)


def test_a_date_with_an_enormous_year_is_a_problem_of_the_cell_not_a_crash():
    with pytest.raises(ValueProblem, match="is not a date"):
        parse_value(DAY, "1 March 202420240301", EN)
