"""The field-type registry: parsing, formatting, options, conversions, form fields, filters.

The first part is pure (no database). The filter tests build a throwaway table with one
column per type and run every operator on the test database (SQLite, or PostgreSQL with
``TEST_DATABASE=postgresql``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.datastructures import MultiDict
from wtforms import Form

from crm.extensions import db
from crm.metadata import types
from crm.metadata.spec import Choice, FieldSpec
from crm.timeutil import utcnow

ALL_TYPES = {
    "text", "long_text", "integer", "decimal", "currency", "percent", "date", "datetime",
    "boolean", "picklist", "multi_picklist", "email", "phone", "url", "lookup", "user",
    "auto_number", "rating", "pipeline", "stage",
}  # fmt: skip
CHOICES = (
    Choice("new", "New", order=0),
    Choice("won", "Won", order=1),
    Choice("old", "Old", order=2, archived=True),
    Choice("lost", "Lost", order=3),
)


def spec(type_key: str, key: str | None = None, **options) -> FieldSpec:
    """A field of ``type_key`` with the type's default options, overridden by ``options``."""
    merged = {**types.get(type_key).default_options, **options}
    if type_key == "lookup":
        merged.setdefault("target", "account")
    return FieldSpec(
        key=key or type_key,
        type=type_key,
        label=type_key.replace("_", " ").title(),
        options=MappingProxyType(merged),
        choices=CHOICES if types.get(type_key).has_choices else (),
    )


def parse(type_key: str, value, **options):
    return types.get(type_key).parse(spec(type_key, **options), value)


def fmt(type_key: str, value, **options) -> str:
    return types.get(type_key).format(spec(type_key, **options), value)


# --- the registry itself ---------------------------------------------------------------------


def test_registry_has_every_type_once():
    assert set(types.REGISTRY) == ALL_TYPES
    for key, ftype in types.REGISTRY.items():
        assert ftype.key == key
        assert ftype.label and ftype.description.endswith(".")
        assert ftype.storage in {
            "string", "text", "integer", "numeric", "date", "datetime", "boolean", "json",
        }  # fmt: skip
        assert set(ftype.operators) >= {"empty"}
        assert types.check_options(key, dict(spec(key).options)) == {}


def test_unknown_type_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Unknown field type “colour”\."):
        types.get("colour")
    with pytest.raises(ValueError, match="Unknown field type"):
        types.check_options("colour", {})


def test_index_by_default():
    indexed = {k for k, t in types.REGISTRY.items() if t.index_by_default}
    assert indexed == {"lookup", "user", "date", "datetime", "auto_number", "pipeline", "stage"}


@pytest.mark.parametrize(
    ("type_key", "options", "sqlite_sql", "postgres_sql"),
    [
        ("text", {}, "VARCHAR(255)", "VARCHAR(255)"),
        ("text", {"max_length": 40}, "VARCHAR(40)", "VARCHAR(40)"),
        ("long_text", {}, "TEXT", "TEXT"),
        ("email", {}, "VARCHAR(254)", "VARCHAR(254)"),
        ("phone", {}, "VARCHAR(40)", "VARCHAR(40)"),
        ("url", {}, "VARCHAR(2048)", "VARCHAR(2048)"),
        ("integer", {}, "BIGINT", "BIGINT"),
        ("decimal", {"decimal_places": 4}, "NUMERIC(18, 4)", "NUMERIC(18, 4)"),
        ("currency", {}, "NUMERIC(18, 2)", "NUMERIC(18, 2)"),
        ("percent", {}, "NUMERIC(18, 2)", "NUMERIC(18, 2)"),
        ("date", {}, "DATE", "DATE"),
        ("datetime", {}, "DATETIME", "TIMESTAMP WITHOUT TIME ZONE"),
        ("boolean", {}, "BOOLEAN", "BOOLEAN"),
        ("picklist", {}, "VARCHAR(64)", "VARCHAR(64)"),
        ("multi_picklist", {}, "JSON", "JSONB"),
        ("lookup", {}, "BIGINT", "BIGINT"),
        ("user", {}, "BIGINT", "BIGINT"),
        ("auto_number", {}, "VARCHAR(64)", "VARCHAR(64)"),
        ("rating", {}, "SMALLINT", "SMALLINT"),
    ],
)
def test_column_types_on_both_databases(type_key, options, sqlite_sql, postgres_sql):
    sa_type = types.get(type_key).sa_type(spec(type_key, **options))
    assert sa_type.compile(dialect=sqlite.dialect()) == sqlite_sql
    assert sa_type.compile(dialect=postgresql.dialect()) == postgres_sql


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_key", "raw", "expected"),
    [
        ("text", "  Ada Lovelace  ", "Ada Lovelace"),
        ("text", "北京市朝阳区 建国路 88 号", "北京市朝阳区 建国路 88 号"),
        ("text", "emoji 😀👩‍💻 ok", "emoji 😀👩‍💻 ok"),
        ("text", "tab\tinside", "tab\tinside"),
        ("text", "x" * 255, "x" * 255),
        ("text", "", None),
        ("text", "   ", None),
        ("text", None, None),
        ("text", 42, "42"),
        ("long_text", "line one\r\nline two\n\t中文", "line one\nline two\n\t中文"),
        ("integer", "42", 42),
        ("integer", " -7 ", -7),
        ("integer", "+7", 7),
        ("integer", "1 234", 1234),
        ("integer", "1\u2009234\u202f567", 1234567),
        ("integer", "9223372036854775807", 2**63 - 1),
        ("integer", "-9223372036854775808", -(2**63)),
        ("integer", 12, 12),
        ("integer", Decimal("12.000"), 12),
        ("integer", "0", 0),
        ("integer", "", None),
        ("decimal", "1234.5", Decimal("1234.50")),
        ("decimal", "-3", Decimal("-3.00")),
        ("decimal", ".5", Decimal("0.50")),
        ("decimal", "1.500", Decimal("1.50")),
        ("decimal", "-0", Decimal("0.00")),
        ("decimal", "1 234.56", Decimal("1234.56")),
        ("decimal", "9999999999999999.99", Decimal("9999999999999999.99")),
        ("decimal", Decimal("2.1"), Decimal("2.10")),
        ("decimal", 0.1, Decimal("0.10")),
        ("decimal", 7, Decimal("7.00")),
        ("currency", "1234.50 EUR", Decimal("1234.50")),
        ("currency", "EUR 12", Decimal("12.00")),
        ("percent", "12.5", Decimal("12.50")),
        ("percent", "12.5 %", Decimal("12.50")),
        ("date", "2024-02-29", date(2024, 2, 29)),
        ("date", " 2025-12-31 ", date(2025, 12, 31)),
        ("date", date(2025, 1, 2), date(2025, 1, 2)),
        ("datetime", "2025-03-01T10:15", datetime(2025, 3, 1, 10, 15)),
        ("datetime", "2025-03-01 10:15:30", datetime(2025, 3, 1, 10, 15, 30)),
        ("datetime", "2025-03-01T10:15:00+02:00", datetime(2025, 3, 1, 8, 15)),
        ("datetime", "2025-03-01T10:15:00Z", datetime(2025, 3, 1, 10, 15)),
        ("datetime", date(2025, 3, 1), datetime(2025, 3, 1)),
        ("boolean", "YES", True),
        ("boolean", "on", True),
        ("boolean", "1", True),
        ("boolean", "False", False),
        ("boolean", "off", False),
        ("boolean", "0", False),
        ("boolean", False, False),
        ("boolean", "", None),
        ("email", " Ada@Example.COM ", "Ada@example.com"),
        ("email", "李@例子.测试", "李@例子.测试"),
        ("phone", "+44 (20) 7946-0958", "+44 (20) 7946-0958"),
        ("phone", "555  0100 ext. 12", "555 0100 ext. 12"),
        ("phone", "030/123.45 x9", "030/123.45 x9"),
        ("url", "https://example.com/a?b=c#d", "https://example.com/a?b=c#d"),
        ("url", "HTTP://EXAMPLE.COM:8080/", "HTTP://EXAMPLE.COM:8080/"),
        ("url", "https://例子.测试/路径", "https://例子.测试/路径"),
        ("url", "http://[::1]/", "http://[::1]/"),
        ("picklist", "won", "won"),
        ("picklist", " won ", "won"),
        ("multi_picklist", ["lost", "new", "lost"], ["new", "lost"]),
        ("multi_picklist", "lost; new,won", ["new", "won", "lost"]),
        ("multi_picklist", [], None),
        ("multi_picklist", "", None),
        ("lookup", "12", 12),
        ("lookup", 12, 12),
        ("user", "3", 3),
        ("auto_number", "", None),
        ("auto_number", None, None),
    ],
)
def test_parse_accepts(type_key, raw, expected):
    assert parse(type_key, raw) == expected


@pytest.mark.parametrize(
    ("type_key", "raw", "message"),
    [
        ("text", "a\x00b", "Remove the control characters"),
        ("text", "bell\x07", "Remove the control characters"),
        ("text", "two\nlines", "Use a single line"),
        ("text", "x" * 256, "Use at most 255 characters."),
        ("text", "\ud800", "cannot be stored"),
        ("text", ["list"], "Enter text."),
        ("long_text", "nul\x00", "Remove the control characters"),
        ("long_text", "x" * 100_001, "Use at most 100,000 characters."),
        ("integer", "1.5", "Enter a whole number."),
        ("integer", "1,234", "Enter a whole number."),
        ("integer", "1e3", "Enter a whole number."),
        ("integer", "abc", "Enter a whole number."),
        ("integer", "١٢٣", "Enter a whole number."),
        ("integer", "1_000", "Enter a whole number."),
        ("integer", True, "Enter a whole number."),
        ("integer", 1.5, "Enter a whole number."),
        ("integer", float("nan"), "Enter a whole number."),
        ("integer", "9223372036854775808", "Enter a number between -9,223,372,036,854,775,808"),
        ("integer", "-9223372036854775809", "and 9,223,372,036,854,775,807."),
        ("integer", "9" * 5000, "Enter a number between"),
        ("decimal", "NaN", "Enter a number"),
        ("decimal", "Infinity", "Enter a number"),
        ("decimal", "-inf", "Enter a number"),
        ("decimal", "1e309", "Enter a number"),
        ("decimal", "1E5", "Enter a number"),
        ("decimal", "1,5", "Enter a number"),
        ("decimal", "0x10", "Enter a number"),
        ("decimal", float("inf"), "Enter a number"),
        ("decimal", Decimal("NaN"), "Enter a number"),
        ("decimal", Decimal("1E+309"), "at most 16 digits before the decimal point"),
        ("decimal", "10000000000000000", "at most 16 digits before the decimal point"),
        ("decimal", "1.005", "Use at most 2 decimal places."),
        ("decimal", "1.0000000000000000000000000001", "Use at most 2 decimal places."),
        ("decimal", True, "Enter a number"),
        ("currency", "12 USD", "Enter a number"),
        ("date", "2025-02-30", "2025-02-30 is not a date."),
        ("date", "2025-13-01", "is not a date."),
        ("date", "01/02/2025", "Enter a date as YYYY-MM-DD."),
        ("date", "2025-1-2", "Enter a date as YYYY-MM-DD."),
        ("date", "2025-01-02T10:00", "Enter a date as YYYY-MM-DD."),
        ("datetime", "2025-03-01", "Enter a date and time"),
        ("datetime", "2025-02-30 10:00", "is not a date and time."),
        ("datetime", "2025-03-01 25:00", "is not a date and time."),
        ("datetime", "yesterday", "Enter a date and time"),
        ("boolean", "maybe", "Enter yes or no."),
        ("boolean", 2, "Enter yes or no."),
        ("email", "not-an-email", "@-sign"),
        ("email", "a@localhost", "special-use or reserved name"),
        ("email", "a b@example.com", "invalid characters"),
        ("email", "a@example.com\x00", "Remove the control characters"),
        ("email", "x" * 250 + "@example.com", "Use at most 254 characters."),
        ("phone", "123", "Enter a phone number"),
        ("phone", "call me", "Enter a phone number"),
        ("phone", "+(---)", "Enter a phone number"),
        ("phone", "-2237", "does not start with a minus sign"),  # Excel's "+1-532-344-1362"
        ("phone", "1" * 41, "Use at most 40 characters."),
        ("url", "javascript:alert(1)", "http:// or https://"),
        ("url", "JaVaScRiPt:alert(1)", "http:// or https://"),
        ("url", "data:text/html,<script>alert(1)</script>", "http:// or https://"),
        ("url", "ftp://example.com/", "http:// or https://"),
        ("url", "example.com", "http:// or https://"),
        ("url", "http://", "http:// or https://"),
        ("url", "https://exa mple.com", "http:// or https://"),
        ("url", "https://example.com:99999/", "http:// or https://"),
        ("url", "https://<script>/", "http:// or https://"),
        ("url", "https://evil.com\\@good.com", "http:// or https://"),
        ("url", "https://e.com/" + "a" * 2048, "Use at most 2,048 characters."),
        ("picklist", "maybe", "“maybe” is not one of the choices."),
        ("picklist", "old", "“old” is not one of the choices."),
        ("picklist", "New", "“New” is not one of the choices."),
        ("picklist", 1, "Choose from the list."),
        ("multi_picklist", ["new", "nope"], "“nope” is not one of the choices."),
        ("multi_picklist", "new,old", "“old” is not one of the choices."),
        ("multi_picklist", 5, "Choose from the list."),
        ("lookup", "0", "Choose a record."),
        ("lookup", "-4", "Choose a record."),
        ("lookup", "abc", "Choose a record."),
        ("user", "1.5", "Choose a user."),
        ("auto_number", "INV-0001", "This number is assigned automatically."),
    ],
)
def test_parse_refuses_with_a_message(type_key, raw, message):
    with pytest.raises(ValueError) as info:
        parse(type_key, raw)
    assert message in str(info.value)


def test_decimal_places_follow_the_options():
    assert parse("decimal", "1.2345", decimal_places=4) == Decimal("1.2345")
    assert parse("decimal", "12345678901234", decimal_places=4) == Decimal("12345678901234.0000")
    with pytest.raises(ValueError, match="at most 14 digits"):
        parse("decimal", "123456789012345", decimal_places=4)
    with pytest.raises(ValueError, match=r"Enter a whole number\."):
        parse("decimal", "1.5", decimal_places=0)
    with pytest.raises(ValueError, match=r"Use at most 1 decimal place\."):
        parse("decimal", "1.55", decimal_places=1)


def test_text_length_follows_max_length():
    assert parse("text", "abc", max_length=3) == "abc"
    with pytest.raises(ValueError, match=r"Use at most 3 characters\."):
        parse("text", "abcd", max_length=3)
    # Characters, not bytes: four Chinese characters are four.
    assert parse("text", "中文字符", max_length=4) == "中文字符"


# --- formatting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_key", "value", "options", "shown"),
    [
        ("text", None, {}, ""),
        ("text", "中文 😀", {}, "中文 😀"),
        ("integer", 1234567, {}, "1,234,567"),
        ("integer", -5, {}, "-5"),
        ("decimal", Decimal("1234.5"), {}, "1,234.50"),
        ("decimal", Decimal("2"), {"decimal_places": 0}, "2"),
        ("decimal", Decimal("0.1234"), {"decimal_places": 4}, "0.1234"),
        # English outside a request (tests/metadata/test_formats.py: every language)
        ("currency", Decimal("1234.5"), {}, "€1,234.50"),
        ("currency", Decimal("-3"), {"currency": "JPY", "decimal_places": 0}, "-¥3"),
        ("percent", Decimal("12.50"), {}, "12.5%"),
        ("percent", Decimal("100.00"), {}, "100%"),
        ("percent", Decimal("0.00"), {}, "0%"),
        ("date", date(2025, 3, 1), {}, "Mar 1, 2025"),
        ("datetime", datetime(2025, 3, 1, 9, 5), {}, "Mar 1, 2025, 9:05\u202fAM"),
        ("datetime", datetime(2025, 3, 1, 9, 5, 7), {}, "Mar 1, 2025, 9:05\u202fAM"),
        ("boolean", True, {}, "Yes"),
        ("boolean", False, {}, "No"),
        ("boolean", None, {}, ""),
        ("picklist", "won", {}, "Won"),
        ("picklist", "old", {}, "Old"),  # archived, still shown
        ("picklist", "gone", {}, "gone"),  # unknown key: shown as stored
        ("multi_picklist", ["new", "old"], {}, "New, Old"),
        ("multi_picklist", None, {}, ""),
        ("lookup", 12, {}, "12"),
        ("auto_number", "INV-0042", {}, "INV-0042"),
    ],
)
def test_format(type_key, value, options, shown):
    assert fmt(type_key, value, **options) == shown


@given(st.integers(min_value=types.BIGINT_MIN, max_value=types.BIGINT_MAX))
def test_integers_round_trip(n):
    assert parse("integer", str(n)) == n
    assert parse("integer", fmt("integer", n).replace(",", " ")) == n


@given(st.decimals(min_value=-(10**16) + 1, max_value=10**16 - 1, places=2))
def test_decimals_round_trip_through_the_form_input(d):
    s = spec("decimal")
    assert parse("decimal", types.input_text(s, parse("decimal", d))) == d


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=255))
def test_any_printable_text_is_kept_but_stripped(text):
    assert parse("text", text) == (text.strip() or None)


# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_key", "options", "problems"),
    [
        ("text", {"max_length": 10_000}, set()),
        ("text", {"max_length": 0}, {"max_length"}),
        ("text", {"max_length": 10_001}, {"max_length"}),
        ("text", {"max_length": "255"}, {"max_length"}),
        ("text", {"max_length": True}, {"max_length"}),
        ("decimal", {"decimal_places": 8}, set()),
        ("decimal", {"decimal_places": 9}, {"decimal_places"}),
        ("decimal", {"decimal_places": -1}, {"decimal_places"}),
        ("currency", {"currency": "USD", "decimal_places": 2}, set()),
        ("currency", {"currency": "usd"}, {"currency"}),
        ("currency", {"currency": "EURO"}, {"currency"}),
        ("currency", {}, {"currency"}),
        ("lookup", {"target": "account"}, set()),
        ("lookup", {"target": "account", "on_delete": "cascade"}, set()),
        ("lookup", {"target": "account", "on_delete": "explode"}, {"on_delete"}),
        ("lookup", {}, {"target"}),
        ("lookup", {"target": "Bad Key"}, {"target"}),
        ("auto_number", {"prefix": "INV-", "padding": 12}, set()),
        ("auto_number", {"prefix": "x" * 21}, {"prefix"}),
        ("auto_number", {"prefix": "a\nb"}, {"prefix"}),
        ("auto_number", {"padding": 13}, {"padding"}),
        ("integer", {"indexed": "yes"}, {"indexed"}),
        ("integer", {"something_else": 1}, set()),
    ],
)
def test_check_options(type_key, options, problems):
    found = types.check_options(type_key, options)
    assert set(found) == problems
    assert all(messages and all(m.endswith(".") for m in messages) for messages in found.values())


# --- conversions -----------------------------------------------------------------------------


def test_safe_conversions_name_real_types_and_kinds():
    for (a, b), kind in types.SAFE_CONVERSIONS.items():
        assert a in ALL_TYPES and b in ALL_TYPES and a != b
        assert kind in ("lossless", "checked")
    assert types.SAFE_CONVERSIONS[("text", "long_text")] == "lossless"
    assert types.SAFE_CONVERSIONS[("integer", "decimal")] == "checked"
    # SQLite's CAST turns "2025-03-01" into 2025: never offered.
    for pair in [("date", "datetime"), ("datetime", "date"), ("text", "date"), ("date", "text")]:
        assert pair not in types.SAFE_CONVERSIONS
    assert ("multi_picklist", "text") not in types.SAFE_CONVERSIONS


@pytest.mark.parametrize(
    ("old", "new", "value", "expected"),
    [
        (spec("text"), spec("integer"), "12", 12),
        (spec("text"), spec("integer"), " -12 ", -12),
        (spec("text"), spec("decimal"), "12.5", Decimal("12.50")),
        (spec("text"), spec("long_text"), "中文", "中文"),
        (spec("text"), spec("email"), "a@example.com", "a@example.com"),
        (spec("text"), spec("picklist"), "won", "won"),
        (spec("long_text"), spec("text"), "short", "short"),
        (spec("text"), spec("text", max_length=30), "x" * 30, "x" * 30),
        (spec("integer"), spec("decimal"), 12, Decimal("12.00")),
        (spec("integer"), spec("text"), 12, "12"),
        (spec("decimal"), spec("integer"), Decimal("12.00"), 12),
        (spec("decimal"), spec("currency"), Decimal("1.50"), Decimal("1.50")),
        (spec("decimal", decimal_places=4), spec("decimal"), Decimal("1.5000"), Decimal("1.50")),
        (spec("picklist"), spec("text"), "won", "won"),
        (spec("auto_number"), spec("text"), "INV-1", "INV-1"),
        (spec("text"), spec("integer"), None, None),
    ],
)
def test_convert_value(old, new, value, expected):
    assert types.convert_value(old, new, value) == expected


@pytest.mark.parametrize(
    ("old", "new", "value", "message"),
    [
        (spec("text"), spec("integer"), "x9", "whole number"),
        (spec("text"), spec("integer"), "1 234", "whole number"),
        (spec("text"), spec("integer"), "12.0", "whole number"),
        (spec("text"), spec("integer"), "99999999999999999999", "between"),
        (spec("text"), spec("decimal"), "NaN", "Enter a number"),
        (spec("text"), spec("decimal"), "1e3", "Enter a number"),
        (spec("text"), spec("decimal"), "1.555", "decimal places"),
        (spec("text"), spec("email"), "nope", "@-sign"),
        (spec("text"), spec("picklist"), "won ", "not one of the choices"),
        (spec("text"), spec("picklist"), "old", "not one of the choices"),
        (spec("text"), spec("text", max_length=30), "x" * 31, "at most 30"),
        (spec("long_text"), spec("text"), "two\nlines", "single line"),
        (spec("long_text"), spec("text"), "y" * 256, "at most 255"),
        (spec("integer"), spec("decimal"), 10**17, "16 digits"),
        (spec("integer"), spec("text", max_length=2), 123, "at most 2"),
        (spec("decimal"), spec("integer"), Decimal("1.50"), "whole number"),
        (spec("decimal", decimal_places=4), spec("decimal"), Decimal("1.2345"), "decimal places"),
        (spec("picklist"), spec("multi_picklist"), "won", "cannot be changed"),
        (spec("date"), spec("datetime"), date(2025, 1, 1), "cannot be changed"),
        (spec("boolean"), spec("integer"), True, "cannot be changed"),
    ],
)
def test_convert_value_refuses(old, new, value, message):
    with pytest.raises(ValueError) as info:
        types.convert_value(old, new, value)
    assert message in str(info.value)


# --- form fields -----------------------------------------------------------------------------


def form_class(*specs: FieldSpec) -> type[Form]:
    return type("ProbeForm", (Form,), {s.key: types.get(s.type).form_field(s) for s in specs})


def test_form_fields_parse_with_the_type_rules():
    specs = [spec(k) for k in sorted(ALL_TYPES)]
    specs[specs.index(spec("integer"))] = FieldSpec("integer", "integer", "N", required=True)
    form = form_class(*specs)(
        MultiDict(
            [
                ("text", "  中文 "),
                ("integer", "0"),
                ("decimal", "1.005"),
                ("date", "2025-02-30"),
                ("boolean", "y"),
                ("multi_picklist", "lost"),
                ("multi_picklist", "new"),
                ("auto_number", "HACKED"),
            ]
        ),
        data={"auto_number": "INV-7"},
    )
    assert not form.validate()
    assert form.errors == {
        "decimal": ["Use at most 2 decimal places."],
        "date": ["2025-02-30 is not a date."],
    }
    assert form.text.data == "中文"
    assert form.integer.data == 0  # zero is a value: "required" is satisfied
    assert form.boolean.data is True
    assert form.multi_picklist.data == ["new", "lost"]
    assert form.auto_number.data == "INV-7"  # read-only: input ignored
    assert 'value="1.005"' in form.decimal()  # what the person typed is shown back


def test_required_field_reports_one_message():
    f = FieldSpec("n", "integer", "N", required=True)
    form = form_class(f)(MultiDict([("n", "")]))
    assert not form.validate()
    assert form.errors == {"n": ["This field is required."]}
    form = form_class(f)(MultiDict([("n", "abc")]))
    assert not form.validate()
    assert form.errors == {"n": ["Enter a whole number."]}


def test_picklist_keeps_an_archived_value_a_record_already_has():
    f = spec("picklist")
    form = form_class(f)(MultiDict([("picklist", "old")]), data={"picklist": "old"})
    assert form.validate(), form.errors
    assert form.picklist.data == "old"
    assert "Old (archived)" in form.picklist()
    fresh = form_class(f)(MultiDict([("picklist", "old")]))
    assert not fresh.validate()
    assert "Old" not in fresh.picklist()


def test_form_widgets_and_escaping():
    f = FieldSpec("name", "text", "<b>Name</b>", help_text="<script>", options=MappingProxyType({}))
    form = form_class(f, spec("decimal"), spec("datetime"), spec("lookup"))(
        data={
            "name": '"><script>',
            "decimal": Decimal("12.50"),
            "datetime": datetime(2025, 1, 2, 3, 4),
        }
    )
    html = form.name()
    assert "<script>" not in html and 'value="&#34;&gt;&lt;script&gt;"' in html
    assert 'maxlength="255"' in html
    # a text input: a number input would drop a number typed in another language's form
    assert 'inputmode="decimal"' in form.decimal() and 'value="12.50"' in form.decimal()
    assert 'type="datetime-local"' in form.datetime() and "2025-01-02T03:04" in form.datetime()
    assert 'data-target="account"' in form.lookup()
    assert "&lt;b&gt;" in str(form.name.label)


# --- filters without a database --------------------------------------------------------------


def test_relative_ranges():
    wed = date(2025, 5, 14)  # a Wednesday
    r = types.relative_range
    assert r("today", wed) == (wed, date(2025, 5, 15))
    assert r("yesterday", wed) == (date(2025, 5, 13), wed)
    assert r("this_week", wed) == (date(2025, 5, 12), date(2025, 5, 19))
    assert r("last_week", wed) == (date(2025, 5, 5), date(2025, 5, 12))
    assert r("this_month", wed) == (date(2025, 5, 1), date(2025, 6, 1))
    assert r("last_month", date(2025, 1, 31)) == (date(2024, 12, 1), date(2025, 1, 1))
    assert r("this_quarter", wed) == (date(2025, 4, 1), date(2025, 7, 1))
    assert r("this_quarter", date(2025, 12, 31)) == (date(2025, 10, 1), date(2026, 1, 1))
    assert r("this_year", wed) == (date(2025, 1, 1), date(2026, 1, 1))
    assert r("last_7_days", wed) == (date(2025, 5, 8), date(2025, 5, 15))
    assert r("last_30_days", wed) == (date(2025, 4, 15), date(2025, 5, 15))
    assert r("next_30_days", wed) == (wed, date(2025, 6, 13))
    with pytest.raises(ValueError, match="Choose one of"):
        r("next_century", wed)


@pytest.mark.parametrize(
    ("type_key", "op", "value", "message"),
    [
        ("text", "gt", "a", "“gt” is not a filter for Text fields."),
        ("boolean", "contains", "a", "is not a filter for Yes/No fields."),
        ("integer", "eq", "abc", "Enter a whole number."),
        ("integer", "eq", "", "Enter a value for this filter."),
        ("integer", "between", ["1"], "Enter two values"),
        ("integer", "between", ["", ""], "at least one of the two"),
        ("date", "eq", "2025-02-30", "is not a date."),
        ("date", "relative", "someday", "Choose one of"),
        ("picklist", "in", ["maybe"], "“maybe” is not one of the choices."),
        ("picklist", "in", [], "Choose at least one value."),
        ("multi_picklist", "contains", "maybe", "not one of the choices"),
        ("user", "is_me", None, "signed-in user"),
        ("text", "contains", "", "Enter a value to search for."),
        ("text", "contains", "a\x00", "control characters"),
        ("lookup", "in", ["1", "x"], "Choose a record."),
    ],
)
def test_build_filter_refuses(type_key, op, value, message):
    column = sa.column(type_key, types.get(type_key).sa_type(spec(type_key)))
    with pytest.raises(ValueError) as info:
        types.build_filter(spec(type_key), column, op, value, dialect_name="sqlite")
    assert message in str(info.value)


def test_multi_select_filters_need_a_known_database():
    column = sa.column("m", types.get("multi_picklist").sa_type(spec("multi_picklist")))
    with pytest.raises(ValueError, match="not supported on mysql"):
        types.build_filter(spec("multi_picklist"), column, "contains", "new", dialect_name="mysql")


def test_filter_values_are_bound_parameters_never_sql_text():
    column = sa.column("name", sa.String)
    hostile = "x' OR 1=1 --"
    for op in ("contains", "equals", "starts_with"):
        condition = types.build_filter(spec("text"), column, op, hostile, dialect_name="sqlite")
        compiled = condition.compile(dialect=sqlite.dialect())
        assert "OR 1=1" not in str(compiled)
        assert any("OR 1=1" in str(v) for v in compiled.params.values())


# --- filters on the database -----------------------------------------------------------------

TODAY = utcnow().date()
NOW_ISH = datetime.combine(TODAY, time(0, 0, 1))
PROBE_TYPES = sorted(ALL_TYPES)

ROWS = [
    {
        "id": 1, "text": "Hello 世界", "long_text": "多行\n文本", "integer": 10,
        "decimal": Decimal("1.50"), "currency": Decimal("100.00"), "percent": Decimal("12.5"),
        "date": date(2025, 3, 1), "datetime": datetime(2025, 3, 1, 10, 0), "boolean": True,
        "picklist": "new", "multi_picklist": ["new", "won"], "email": "ann@example.com",
        "phone": "+1 555 0100", "url": "https://example.com/", "lookup": 7, "user": 1,
        "auto_number": "INV-0001",
    },
    {
        "id": 2, "text": "100% sure_thing", "long_text": "50% off", "integer": -5,
        "decimal": Decimal("-2.25"), "currency": Decimal("99.99"), "percent": Decimal("0"),
        "date": date(2025, 3, 15), "datetime": datetime(2025, 3, 2, 0, 0), "boolean": False,
        "picklist": "won", "multi_picklist": ["won"], "email": "bob@example.org",
        "phone": "030 1234", "url": "http://example.org/a_b", "lookup": 8, "user": 2,
        "auto_number": "INV-0002",
    },
    {
        "id": 3, "text": "100 percent sureXthing", "long_text": None, "integer": None,
        "decimal": None, "currency": None, "percent": None, "date": TODAY,
        "datetime": NOW_ISH, "boolean": None, "picklist": "old", "multi_picklist": [],
        "email": None, "phone": None, "url": None, "lookup": None, "user": None,
        "auto_number": None,
    },
    {
        "id": 4, "text": "", "long_text": "", "integer": None, "decimal": None,
        "currency": None, "percent": None, "date": None, "datetime": None, "boolean": None,
        "picklist": None, "multi_picklist": None, "email": None, "phone": None, "url": None,
        "lookup": None, "user": None, "auto_number": None,
    },
    {
        "id": 5, "text": "hello world", "long_text": "HELLO", "integer": 0,
        "decimal": Decimal("0.01"), "currency": None, "percent": None,
        "date": TODAY + timedelta(days=10), "datetime": None, "boolean": None,
        "picklist": "lost", "multi_picklist": ["lost"], "email": None, "phone": None,
        "url": None, "lookup": None, "user": None, "auto_number": None,
    },
]  # fmt: skip

for _row, _stars in zip(ROWS, (5, 1, 3, None, None), strict=True):
    _row["rating"] = _stars
    # Pipelines and stages store a key like a picklist (their choices come from pipelines).
    _row["pipeline"] = _row["stage"] = _row["picklist"]

CASES = [
    # text family: case-insensitive LIKE with % and _ taken literally
    ("text", "contains", "%", {2}),
    ("text", "contains", "_", {2}),
    ("text", "contains", "100%", {2}),
    ("text", "contains", "sure_thing", {2}),
    ("text", "contains", "HELLO", {1, 5}),
    ("text", "contains", "世界", {1}),
    ("text", "contains", ["world"], {5}),
    ("text", "starts_with", "100", {2, 3}),
    ("text", "starts_with", "100%", {2}),
    ("text", "starts_with", "%", set()),
    ("text", "equals", "Hello 世界", {1}),
    ("text", "equals", "hello 世界", set()),
    ("text", "not_equals", "Hello 世界", {2, 3, 4, 5}),
    ("text", "empty", None, {4}),
    ("text", "not_empty", None, {1, 2, 3, 5}),
    ("long_text", "contains", "文本", {1}),
    ("long_text", "contains", "%", {2}),
    ("long_text", "contains", "hello", {5}),
    ("long_text", "empty", None, {3, 4}),
    ("email", "contains", "EXAMPLE.COM", {1}),
    ("email", "equals", "ann@example.com", {1}),
    ("email", "not_empty", None, {1, 2}),
    ("phone", "starts_with", "+1", {1}),
    ("url", "contains", "_", {2}),
    ("url", "starts_with", "https://", {1}),
    ("auto_number", "equals", "INV-0002", {2}),
    ("auto_number", "contains", "inv", {1, 2}),
    # numbers
    ("integer", "eq", "0", {5}),
    ("integer", "ne", "10", {2, 3, 4, 5}),
    ("integer", "gt", "0", {1}),
    ("integer", "gte", "0", {1, 5}),
    ("integer", "lt", "0", {2}),
    ("integer", "lte", "10", {1, 2, 5}),
    ("integer", "between", ["-5", "0"], {2, 5}),
    ("integer", "between", ["", "0"], {2, 5}),
    ("integer", "between", ["1", ""], {1}),
    ("integer", "empty", None, {3, 4}),
    ("integer", "not_empty", None, {1, 2, 5}),
    ("decimal", "eq", "1.5", {1}),
    ("decimal", "gt", "0", {1, 5}),
    ("decimal", "lt", "-2.24", {2}),
    ("decimal", "between", ["0.01", "1.50"], {1, 5}),
    ("currency", "gte", "100", {1}),
    ("currency", "lt", "100 EUR", {2}),
    ("percent", "eq", "12.5 %", {1}),
    ("percent", "eq", "0", {2}),
    ("rating", "gte", "3", {1, 3}),
    ("rating", "between", ["1", "3"], {2, 3}),
    ("rating", "ne", "5", {2, 3, 4, 5}),
    ("rating", "empty", None, {4, 5}),
    # dates: a plain date on a datetime field means that whole day
    ("date", "eq", "2025-03-01", {1}),
    ("date", "before", "2025-03-15", {1}),
    ("date", "after", "2025-03-01", {2, 3, 5}),
    ("date", "between", ["2025-03-01", "2025-03-15"], {1, 2}),
    ("date", "relative", "today", {3}),
    ("date", "relative", "last_30_days", {3}),
    ("date", "relative", "next_30_days", {3, 5}),
    ("date", "relative", "yesterday", set()),
    ("date", "empty", None, {4}),
    ("date", "not_empty", None, {1, 2, 3, 5}),
    ("datetime", "eq", "2025-03-01", {1}),
    ("datetime", "eq", "2025-03-01 10:00", {1}),
    ("datetime", "eq", "2025-03-01 10:01", set()),
    ("datetime", "before", "2025-03-02", {1}),
    ("datetime", "before", "2025-03-02 00:00", {1}),
    ("datetime", "after", "2025-03-01", {2, 3}),
    ("datetime", "after", "2025-03-01 10:00", {2, 3}),
    ("datetime", "between", ["2025-03-01", "2025-03-02"], {1, 2}),
    ("datetime", "between", ["2025-03-01 10:00", "2025-03-01 10:00"], {1}),
    ("datetime", "relative", "today", {3}),
    ("datetime", "relative", "this_year", {3} | ({1, 2} if TODAY.year == 2025 else set())),
    ("datetime", "empty", None, {4, 5}),
    ("datetime", "not_empty", None, {1, 2, 3}),
    # yes/no
    ("boolean", "is_true", None, {1}),
    ("boolean", "is_false", None, {2}),
    ("boolean", "empty", None, {3, 4, 5}),
    # picklists: archived values can still be searched for
    ("picklist", "in", ["new", "lost"], {1, 5}),
    ("picklist", "in", "won", {2}),
    ("picklist", "in", ["old"], {3}),
    ("picklist", "not_in", ["new"], {2, 3, 4, 5}),
    ("picklist", "empty", None, {4}),
    ("picklist", "not_empty", None, {1, 2, 3, 5}),
    ("stage", "in", ["new", "lost"], {1, 5}),
    ("stage", "not_in", ["new"], {2, 3, 4, 5}),
    ("stage", "empty", None, {4}),
    ("stage", "not_empty", None, {1, 2, 3, 5}),
    ("pipeline", "in", ["won"], {2}),
    ("pipeline", "not_in", ["won", "old"], {1, 4, 5}),
    ("pipeline", "empty", None, {4}),
    ("pipeline", "not_empty", None, {1, 2, 3, 5}),
    ("multi_picklist", "contains", "won", {1, 2}),
    ("multi_picklist", "contains", "new", {1}),
    ("multi_picklist", "contains", "old", set()),
    ("multi_picklist", "contains", ["lost"], {5}),
    ("multi_picklist", "contains_any", ["new", "lost"], {1, 5}),
    ("multi_picklist", "contains_any", ["won"], {1, 2}),
    ("multi_picklist", "empty", None, {3, 4}),
    ("multi_picklist", "not_empty", None, {1, 2, 5}),
    # lookups and users
    ("lookup", "eq", "7", {1}),
    ("lookup", "in", ["7", "8"], {1, 2}),
    ("lookup", "empty", None, {3, 4, 5}),
    ("lookup", "not_empty", None, {1, 2}),
    ("user", "eq", 2, {2}),
    ("user", "is_me", None, {2}),
    ("user", "in", ["1", "2", "99"], {1, 2}),
    ("user", "empty", None, {3, 4, 5}),
    ("user", "not_empty", None, {1, 2}),
]


@pytest.fixture
def probe(app):
    """A throwaway table with one column per type (named after the type), with ROWS."""
    metadata = sa.MetaData()
    table = sa.Table(
        "t_filter_probe",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        *(sa.Column(k, types.get(k).sa_type(spec(k))) for k in PROBE_TYPES),
    )
    metadata.create_all(db.engine)
    try:
        with db.engine.begin() as conn:
            conn.execute(table.insert(), ROWS)
        yield table
    finally:
        metadata.drop_all(db.engine)


def matching(table: sa.Table, type_key: str, op: str, value, user_id: int | None = 2) -> set[int]:
    dialect = db.engine.dialect.name
    condition = types.build_filter(
        spec(type_key), table.c[type_key], op, value, dialect_name=dialect, user_id=user_id
    )
    with db.engine.connect() as conn:
        return set(conn.scalars(sa.select(table.c.id).where(condition)))


def test_every_operator_on_the_database(probe):
    wrong = []
    for type_key, op, value, expected in CASES:
        got = matching(probe, type_key, op, value)
        if got != expected:
            wrong.append(f"{type_key} {op} {value!r}: got {sorted(got)}, want {sorted(expected)}")
    assert wrong == []


def test_cases_cover_every_operator():
    covered = {(t, op) for t, op, _, _ in CASES}
    assert {t for t, _ in covered} == ALL_TYPES
    # Types that share a family's code (email, phone, url, currency ...) are sampled above.
    full = ("text", "integer", "date", "datetime", "boolean", "picklist", "multi_picklist")
    for key in (*full, "lookup", "user"):
        assert {(key, op) for op in types.get(key).operators} <= covered, key


def test_multi_select_contains_runs_in_the_database(probe):
    """ "contains" must look inside the JSON array, not match text: "new" is not "news"."""
    with db.engine.begin() as conn:
        conn.execute(
            probe.insert(),
            [
                {"id": 6, "multi_picklist": ["lost", "won"]},
                {"id": 7, "multi_picklist": None},
            ],
        )
        # A value that only a text match would find: a key embedded in another string.
        nulls = conn.scalar(
            sa.select(sa.func.count()).where(probe.c.id == 7, probe.c.multi_picklist.is_(None))
        )
    assert nulls == 1  # Python None is stored as SQL NULL, not the JSON value null
    assert matching(probe, "multi_picklist", "contains", "won") == {1, 2, 6}
    assert matching(probe, "multi_picklist", "contains", "lost") == {5, 6}
    assert matching(probe, "multi_picklist", "contains_any", ["new", "lost"]) == {1, 5, 6}
    assert matching(probe, "multi_picklist", "empty", None) == {3, 4, 7}
    condition = types.build_filter(
        spec("multi_picklist"),
        probe.c.multi_picklist,
        "contains",
        "won",
        dialect_name=db.engine.dialect.name,
    )
    sql = str(condition.compile(dialect=db.engine.dialect))
    assert ("@>" if db.engine.dialect.name == "postgresql" else "json_each") in sql
    assert "LIKE" not in sql.upper()


def test_percent_matches_only_a_literal_percent_sign(probe):
    with db.engine.begin() as conn:
        conn.execute(
            probe.insert(),
            [{"id": 8, "text": "50 percent"}, {"id": 9, "text": "a_b%c\\d"}],
        )
    assert matching(probe, "text", "contains", "%") == {2, 9}
    assert matching(probe, "text", "contains", "_") == {2, 9}
    assert matching(probe, "text", "contains", "\\") == {9}
    assert matching(probe, "text", "contains", "%c\\") == {9}
    assert matching(probe, "text", "equals", "a_b%c\\d") == {9}
