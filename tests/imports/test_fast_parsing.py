"""The import's fast paths read every cell exactly as the slow paths do (issue 16).

The run parses a batch column by column (``parse_rows``: a reader made once per column,
a memo of repeated texts) and the type hooks take shortcuts for the common shapes (plain
one-line text, grouped thousands, ``12.5%``, ASCII text with no spacing to tidy). Here a
mixed set of messy cells is read both ways, the shortcuts switched off for the slow way:
same values (same Decimal digits and exponent) and same messages, cell by cell."""

from __future__ import annotations

import random
import re

import pytest

from crm.imports.values import ColumnMap, ImportContext, parse_rows, parse_value
from crm.metadata.spec import Choice, FieldSpec
from crm.metadata.types import importing, l10n
from crm.metadata.types import values as type_values

NEVER = re.compile(r"(?!)")

PIECES = {
    "number": [
        "1234", "-1234", "1,234", "1.234", "1,234.50", "1.234,50", "1,234,567", "1.234.567",
        "12,34", "0.5", "-0,000.5", "012,345.6", "1,23,456", "1,234.567,8", "12.5%", "-5%",
        "1.234%", "0.500%", "(1,234.00)", "$1,234.56", "1 234,5", "EUR 12", "12 USD", "abc",
        "1e5", "99999999999999999999.99", "3.14159", "", " ", "NULL", "n/a", "\u00a01,234",
        "1,234,567.891011", "-0", "00012", "7", "1,2,3", "１２３", "12.5 %", "%5",
    ],
    "text": [
        "Ann Lee", "  padded  ", "新 希 望", "Company\u00a042", "tab\there", "line\nbreak",
        "bell\x07", "\u200bzero width", "=HYPERLINK(\"x\")", "00123", "x" * 300, "x" * 255,
        "José Núñez", "a\u3000b", "\ud800", "NULL", "(blank)", " ", "", "123 Main St, Apt 4",
        "del\x7f", "nbsp\u202fthin", "ok.",
    ],
    "date": [
        "2024-03-01", "3/1/2024", "13/1/2024", "1/13/2024", "20240301", "45000", "0",
        "2024年3月1日", "1 March 2024", "March 1, 2024", "2024-02-30", "2024-03-01 00:00",
        "2024-03-01 10:30", "abc", "00/00/0000", "", "NULL",
    ],
    "bool": ["Yes", "no", "1", "0", "是", "否", "Sí", "maybe", "TRUE", "y.", ""],
    "email": [
        "user1@example.com", "User@Example.COM", "postmaster@example.com", "a@b", "x@localhost",
        "jo.se@mail.es", "bad@", "@bad", "ünï@example.com", "a b@example.com", "",
    ],
    "phone": ["+1-212-555-0100", "555", "(0)30 1234 5678", "+86 10 1234 5678", "call me", ""],
    "choice": ["Consumer", "consumer", "CORPORATE", "Home Office", "home office", "Other", ""],
}  # fmt: skip

SEGMENT = (Choice("consumer", "Consumer"), Choice("corporate", "Corporate"),
           Choice("home_office", "Home Office"))  # fmt: skip


def field(key: str, type_key: str, **options) -> FieldSpec:
    return FieldSpec(key=key, type=type_key, label=key, options=options)


FIELDS = [
    (field("code", "text"), "text"),
    (field("notes", "long_text"), "text"),
    (field("email", "email"), "email"),
    (field("phone", "phone"), "phone"),
    (field("count", "integer"), "number"),
    (field("amount", "decimal", decimal_places=4), "number"),
    (field("price", "currency", currency="USD", decimal_places=2), "number"),
    (field("share", "percent", decimal_places=1), "number"),
    (field("day", "date"), "date"),
    (field("moment", "datetime"), "date"),
    (field("active", "boolean"), "bool"),
    (FieldSpec(key="segment", type="picklist", label="Segment", choices=SEGMENT), "choice"),
]


def messy(rnd: random.Random, kind: str) -> str:
    """A cell: a piece, sometimes two glued, sometimes padded."""
    piece = rnd.choice(PIECES[kind])
    roll = rnd.random()
    if roll < 0.15:
        piece = piece + rnd.choice(PIECES[kind])
    elif roll < 0.3:
        piece = rnd.choice([" ", "\u00a0", "\ufeff", "\t"]) + piece + rnd.choice([" ", ""])
    return piece


def outcome(read, *args):
    try:
        value = read(*args)
    except ValueError as exc:
        return ("problem", str(exc))
    return ("value", type(value).__name__, str(value) if value is not None else None)


@pytest.mark.parametrize("language", ["en", "es", "zh_Hans"])
def test_fast_paths_read_every_cell_as_the_slow_paths(app, monkeypatch, language):
    rnd = random.Random(16)
    ctx = ImportContext(formats=l10n.formats(language, "Europe/Madrid"))
    columns = [ColumnMap(i, f, ctx) for i, (f, _kind) in enumerate(FIELDS)]
    rows = [[messy(rnd, kind) for _f, kind in FIELDS] for _n in range(1500)]
    rows += rows[:300]  # repeated texts: read from the column's memo the second time
    fast = []
    for start in range(0, len(rows), 500):
        fast += parse_rows(columns, rows[start : start + 500])

    monkeypatch.setattr(importing, "_GROUPED_POINT", NEVER)
    monkeypatch.setattr(importing, "_GROUPED_COMMA", NEVER)
    monkeypatch.setattr(importing, "_nothing_to_tidy", lambda text: False)
    monkeypatch.setattr(type_values, "_PLAIN_LINE", NEVER)
    checked = 0
    for row, parsed in zip(rows, fast, strict=True):
        problems = {p.field: p.message for p in parsed.problems}
        for col in columns:
            key = col.spec.key
            slow = outcome(parse_value, col.spec, row[col.column], ctx)
            got = (
                ("problem", problems[key])
                if key in problems
                else outcome(lambda v: v, parsed.values[key])
            )
            assert got == slow, (key, row[col.column])
            checked += 1
    assert checked == len(rows) * len(FIELDS)


def test_the_slow_paths_are_really_taken_when_switched_off(app, monkeypatch):
    """The comparison above means something only if switching off changes the path."""
    calls = []
    real = importing._machine
    monkeypatch.setattr(importing, "_machine", lambda s, ctx: calls.append(s) or real(s, ctx))
    spec = field("price", "currency", currency="USD", decimal_places=2)
    parse_value(spec, "1,234,567.89", ImportContext())
    assert calls == []
    monkeypatch.setattr(importing, "_GROUPED_POINT", NEVER)
    assert str(parse_value(spec, "1,234,567.89", ImportContext())) == "1234567.89"
    assert calls == ["1,234,567.89"]
