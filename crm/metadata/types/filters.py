"""Shared filter SQL and filter values: the builders the entries carry (``filter_sql``)
and the default way a typed filter value is read (``canon_value``).

Builders take ``(ftype, spec, column, op, value, dialect_name, user_id)``; ``value`` is raw
input (a string, or a list of strings for "in", "between" ...). They use bound
parameters only and raise ValueError with a message for people.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.sql.elements import ColumnElement

from crm.metadata.spec import FieldSpec
from crm.metadata.types.base import SEARCH_OPS, FieldType, blank, input_text, search_term
from crm.metadata.types.base import text_value as _text_value

TEXT_OPS = ("contains", "equals", "not_equals", "starts_with", "empty", "not_empty")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between", "empty", "not_empty")
DATE_OPS = ("eq", "before", "after", "between", "relative", "empty", "not_empty")
RELATIVE_RANGES = (
    "today", "yesterday", "this_week", "last_week", "this_month", "last_month",
    "this_quarter", "this_year", "last_7_days", "last_30_days", "next_30_days",
)  # fmt: skip
RELATIVE_LABELS = {
    "today": _l("Today"), "yesterday": _l("Yesterday"), "this_week": _l("This week"),
    "last_week": _l("Last week"), "this_month": _l("This month"),
    "last_month": _l("Last month"), "this_quarter": _l("This quarter"),
    "this_year": _l("This year"), "last_7_days": _l("Last 7 days"),
    "last_30_days": _l("Last 30 days"), "next_30_days": _l("Next 30 days"),
}  # fmt: skip


def relative_range(name: str, today: date) -> tuple[date, date]:
    """The days ``[start, end)`` that a relative date filter means on ``today`` (the
    user's today, in their time zone: ``l10n.Formats.today``). Weeks start on Monday in
    every language; "last_N_days" include today, "next_30_days" are today and the 29 days
    after. ValueError for an unknown name."""
    day = timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    month = today.replace(day=1)
    quarter = month.replace(month=3 * ((today.month - 1) // 3) + 1)

    def plus_months(d: date, n: int) -> date:
        y, m = divmod(d.month - 1 + n, 12)
        return d.replace(year=d.year + y, month=m + 1)

    ranges = {
        "today": (today, today + day),
        "yesterday": (today - day, today),
        "this_week": (monday, monday + 7 * day),
        "last_week": (monday - 7 * day, monday),
        "this_month": (month, plus_months(month, 1)),
        "last_month": (plus_months(month, -1), month),
        "this_quarter": (quarter, plus_months(quarter, 3)),
        "this_year": (
            today.replace(month=1, day=1),
            today.replace(year=today.year + 1, month=1, day=1),
        ),
        "last_7_days": (today - 6 * day, today + day),
        "last_30_days": (today - 29 * day, today + day),
        "next_30_days": (today, today + 30 * day),
    }
    if name not in ranges:
        raise ValueError(_("Choose one of: %(names)s.", names=", ".join(RELATIVE_RANGES)))
    return ranges[name]


# --- reading raw filter values ---------------------------------------------------------------


def one(spec: FieldSpec, value: Any, parse: Callable[[FieldSpec, Any], Any]) -> Any:
    """The single value of a filter, parsed; ValueError when there are several or none."""
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise ValueError(_("Enter one value for this filter."))
        value = value[0]
    parsed = parse(spec, value)
    if parsed is None:
        raise ValueError(_("Enter a value for this filter."))
    return parsed


def many(spec: FieldSpec, value: Any, parse: Callable[[FieldSpec, Any], Any]) -> list[Any]:
    """The values of an "is one of" filter, parsed and de-duplicated; at least one."""
    items = value if isinstance(value, list | tuple) else [value]
    parsed = [parse(spec, v) for v in items if not blank(v)]
    if not parsed:
        raise ValueError(_("Choose at least one value."))
    return list(dict.fromkeys(parsed))


def pair(value: Any) -> tuple[Any, Any]:
    """The two ends of a "between" filter (one may be blank, not both)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(_("Enter two values: from and to."))
    if blank(value[0]) and blank(value[1]):
        raise ValueError(_("Enter at least one of the two values."))
    return value[0], value[1]


def _search(spec: FieldSpec, value: Any) -> str:
    return search_term(value)


# --- builders ----------------------------------------------------------------------------------


def text_filter(ftype: FieldType, spec: FieldSpec, col: Any, op: str, value: Any, *_args: Any):
    """contains / starts with (case-insensitive, escaped), equals, not equals, empty."""
    if op == "empty":
        return sa.or_(col.is_(None), col == "")
    if op == "not_empty":
        return sa.and_(col.is_not(None), col != "")
    if op == "contains":
        return col.icontains(one(spec, value, _search), autoescape=True)
    if op == "starts_with":
        return col.istartswith(one(spec, value, _search), autoescape=True)
    # An assigned value (an auto-number) is never typed: compare with the text as given.
    term = one(spec, value, _search if ftype.assigned else ftype.parse)
    return col == term if op == "equals" else sa.or_(col != term, col.is_(None))


def number_filter(ftype: FieldType, spec: FieldSpec, col: Any, op: str, value: Any, *_args: Any):
    """Comparisons, "between" (inclusive; an open end is blank) and empty. Values are read
    as the user's language writes numbers (and in the machine form a link carries)."""
    if op in ("empty", "not_empty"):
        return col.is_(None) if op == "empty" else col.is_not(None)
    parse = ftype.parse_input
    if op == "between":
        low, high = pair(value)
        parts = []
        if not blank(low):
            parts.append(col >= one(spec, low, parse))
        if not blank(high):
            parts.append(col <= one(spec, high, parse))
        return sa.and_(*parts)
    n = one(spec, value, parse)
    compare = {
        "eq": col == n, "gt": col > n, "gte": col >= n, "lt": col < n, "lte": col <= n,
        "ne": sa.or_(col != n, col.is_(None)),
    }  # fmt: skip
    return compare[op]


def equality_filter(
    ftype: FieldType,
    spec: FieldSpec,
    col: Any,
    op: str,
    value: Any,
    dialect_name: str = "",
    user_id: int | None = None,
) -> ColumnElement:
    """empty, yes/no, "is me", "is one of" and "is" on the stored value."""
    if op == "empty":
        return col.is_(None)
    if op == "not_empty":
        return col.is_not(None)
    if op == "is_true":
        return col.is_(True)
    if op == "is_false":
        return col.is_(False)
    if op == "is_me":
        if user_id is None:
            raise ValueError(_("“Is me” needs a signed-in user."))
        return col == user_id
    if op == "in":
        return col.in_(many(spec, value, ftype.parse))
    return col == one(spec, value, ftype.parse)


# --- filter values as a saved view keeps them ------------------------------------------------


def canon_value(
    ftype: FieldType, field: FieldSpec, op: str, text: str, lenient: bool
) -> tuple[str, Any]:
    """One non-blank filter value as stored (canonical text, the machine form every
    language reads back alike: 1234.50) and as parsed (to compare the two ends of
    "between"). The value is read as the user's language writes it. ValueError with a
    message for people."""
    if op in SEARCH_OPS:  # any text, whatever the field's type
        parsed = _text_value(text, multiline=False, limit=255)
        return parsed, parsed
    parsed = ftype.parse_input(field, text)
    if parsed is None:
        raise ValueError(_("Enter a value."))
    return input_text(field, parsed), parsed
