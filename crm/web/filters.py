"""Jinja filters (``datetime_short``, ``date_short``, ``number``, ``urlencode_without``)
and the ``options`` global: plain functions, registered for every template by
``crm.web.templating``. Dates, moments and numbers are written as the user's language
writes them, moments in the user's time zone (``crm.metadata.types.l10n``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

from crm.metadata.types.l10n import current


def datetime_short(value: datetime | None) -> str:
    """A stored moment (naive UTC) in the user's time zone and language, to the minute
    (``Nov 23, 2026, 2:05 PM`` / ``23 nov 2026, 14:05`` / ``2026年11月23日 14:05``), or
    an empty string."""
    return current().moment(value) if value else ""


def date_short(value: date | None) -> str:
    """A calendar day in the user's language (``Nov 23, 2026`` / ``23 nov 2026``), or an
    empty string."""
    if not value:
        return ""
    return current().day(value.date() if isinstance(value, datetime) else value)


def number(value: int | float | None, places: int | None = None) -> str:
    """A number (a count, an amount) grouped as the user's language writes it
    (``12,345`` / ``12.345``); an empty string for None."""
    if value is None:
        return ""
    return current().number(value, places)


def urlencode_without(args, *names: str) -> str:
    """The query string of ``args`` (a MultiDict) without ``names`` (escaped)."""
    return urlencode([(k, v) for k, v in args.items(multi=True) if k not in names])


def options(items: Iterable[tuple[Any, Any]], chosen: Any = None, prefix: str = "") -> Markup:
    """``<option>`` elements for ``(value, label)`` pairs (``prefix`` before each value),
    the one whose value is ``chosen`` selected; everything escaped. A choice of every
    person and department is hundreds of options: a Jinja loop over them cost a panel
    more than its queries."""
    chosen = None if chosen is None else str(chosen)
    out = []
    for value, label in items:
        v = f"{prefix}{value}"
        selected = " selected" if v == chosen else ""
        out.append(f'<option value="{escape(v)}"{selected}>{escape(label)}</option>')
    return Markup("\n".join(out))  # noqa: S704 - every piece escaped
