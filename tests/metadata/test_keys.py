"""Keys are strict identifiers; labels are free text."""

from __future__ import annotations

import pytest

from crm.metadata.keys import clean_label, key_problems, label_problems, suggest_key


@pytest.mark.parametrize("key", ["account", "a", "x1", "order_line", "a" * 41, "selected"])
def test_good_keys(key):
    assert key_problems(key) == []


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "Enter a key"),
        ("1st", "must start with a lowercase letter"),
        ("_x", "must start with a lowercase letter"),
        ("Name", "must be lowercase"),
        ("a" * 42, "too long"),
        ("na-me", "only lowercase letters"),
        ("x;drop table users", "only lowercase letters"),
        ("a'b", "only lowercase letters"),
        ("../etc", "only lowercase letters"),
        ("{{7*7}}", "only lowercase letters"),
        ("name\x00", "only lowercase letters"),
        ("naïve", "only lowercase letters"),
        ("select", "reserved word"),
        ("order", "reserved word"),
        ("class", "reserved word"),
        ("id", "column every record already has"),
        ("owner_id", "column every record already has"),
        ("deleted_at", "column every record already has"),
        ("user", "reserved word"),
    ],
)
def test_bad_keys_say_why(key, fragment):
    problems = key_problems(key)
    assert problems and any(fragment in p for p in problems), problems


def test_labels_keep_any_script_and_lose_control_characters():
    assert clean_label("  客户  ") == "客户"
    assert clean_label("Cuentas de clientes 🚀") == "Cuentas de clientes 🚀"
    assert clean_label("a\x00b\x07c") == "abc"
    assert clean_label("عميل\u200f") == "عميل\u200f"
    assert clean_label("\u200b\u200f") == ""
    assert label_problems("\u200b") == ["Enter a label."]
    assert label_problems("x" * 201)[0].startswith("The label is too long")
    assert label_problems("{{7*7}}") == []


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("Account", "account"),
        ("Order line", "order_line"),
        ("Café crème", "cafe_creme"),
        ("Select", "select_2"),
        ("123 go", "f_123_go"),
        ("客户", "ke_hu"),
        ("Заказчик", "zakazchik"),
        ("🚀", "rocket"),
        ("!!!", "item"),
    ],
)
def test_suggested_keys_are_valid(label, key):
    assert suggest_key(label) == key
    assert key_problems(suggest_key(label)) == []


def test_suggested_key_avoids_taken_ones():
    assert suggest_key("Account", taken={"account"}) == "account_2"


@pytest.mark.parametrize(
    ("singular", "plural"),
    [
        ("Member", "Members"),
        ("Company", "Companies"),
        ("Box", "Boxes"),
        ("Day", "Days"),
        ("会员", "会员"),
        ("Ticket 🎫", "Ticket 🎫"),
    ],
)
def test_plural_suggestion(singular, plural):
    from crm.metadata.keys import suggest_plural

    assert suggest_plural(singular) == plural
