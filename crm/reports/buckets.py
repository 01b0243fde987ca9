"""Dates and moments bucketed by day, week (from Monday), month, quarter or year, in SQL,
in the viewer's time zone.

Moments are stored as naive UTC. PostgreSQL converts them with its own time zone
database (``timezone(zone, timezone('UTC', col))``). SQLite has none, so the wall-clock
time is the moment plus the zone's offset at that moment, the offset chosen by a
balanced ``CASE`` over the zone's clock changes (about eight comparisons a row, whatever
the years): the same answers, clock changes included. Outside TRANSITION_YEARS the
nearest offset applies.

A bucket's key is text that sorts in time order: 2026-03-29 (day), 2026-03-23 (the
week's Monday), 2026-03, 2026-Q1, 2026. ``span`` gives the first and last day a key
covers (what a drill-down filters by) and ``label`` the key in the reader's language.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from babel.dates import format_skeleton
from flask_babel import gettext as _
from sqlalchemy import Integer, String, cast, func, literal_column

from crm import timeutil
from crm.metadata.types import l10n

TRANSITION_YEARS = (1900, 2200)
SAFE_NAME = re.compile(r"[a-z][a-z0-9_]*")


@lru_cache(maxsize=32)
def transitions(zone: str) -> tuple[tuple[datetime, int], ...]:
    """``((utc moment, offset in seconds from then on), ...)`` for ``zone``: the first
    entry is the offset before the first change (its moment is the window's start)."""
    tz = timeutil.zone_info(zone)
    start = datetime(TRANSITION_YEARS[0], 1, 1, tzinfo=UTC)
    end = datetime(TRANSITION_YEARS[1], 1, 1, tzinfo=UTC)

    def offset(moment: datetime) -> int:
        return int(moment.astimezone(tz).utcoffset().total_seconds())

    out = [(start.replace(tzinfo=None), offset(start))]
    step = timedelta(days=1)
    here, current = start, out[0][1]
    while here < end:
        nxt = here + step
        now = offset(nxt)
        if now != current:
            lo, hi = here, nxt  # the change lies in (lo, hi]: bisect to the second
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if offset(mid) == current:
                    lo = mid
                else:
                    hi = mid
            out.append((hi.replace(tzinfo=None), now))
            current = now
        here = nxt
    return tuple(out)


def _offset_case(column: str, changes: tuple[tuple[datetime, int], ...], lo: int, hi: int) -> str:
    if lo == hi:
        return f"'{changes[lo][1]:+d} seconds'"
    mid = (lo + hi + 1) // 2
    at = changes[mid][0].strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"CASE WHEN {column} < '{at}' THEN {_offset_case(column, changes, lo, mid - 1)} "
        f"ELSE {_offset_case(column, changes, mid, hi)} END"
    )


@lru_cache(maxsize=256)
def _offset_sql(column: str, zone: str) -> str:
    """The SQLite modifier ('+3600 seconds') of ``zone`` at the moment in ``column``: SQL
    text written here from the zone's computed clock changes and a column name that is
    an entity key (``^[a-z][a-z0-9_]*$``), never from what a person typed; built once
    per column and zone (a few hundred nested CASEs cost SQLAlchemy ~0.3 s to build as
    expressions, and nothing as text)."""
    changes = transitions(zone)
    return _offset_case(column, changes, 0, len(changes) - 1)


def offset_sqlite(col: Any, zone: str) -> list:
    """SQLite: the date-function modifiers that turn ``col`` (naive UTC text) into the
    wall-clock time of ``zone`` (none for a zone always at UTC). Given to ``strftime``
    itself, they cost no second parse of the moment."""
    changes = transitions(zone)
    if len(changes) == 1 and changes[0][1] == 0:
        return []
    if not SAFE_NAME.fullmatch(col.table.name) or not SAFE_NAME.fullmatch(col.name):
        raise ValueError(f"unexpected column {col.table.name}.{col.name}")
    column = f'"{col.table.name}"."{col.name}"'
    return [literal_column(_offset_sql(column, zone))]


def key_sql(col: Any, bucket: str, dialect: str, *, moment: bool, zone: str):
    """The SQL expression of the bucket key of ``col`` (a date, or a moment when
    ``moment``) in ``zone``."""
    if dialect == "postgresql":
        local = func.timezone(zone, func.timezone("UTC", col)) if moment else col
        fmt = {
            "day": "YYYY-MM-DD",
            "week": "YYYY-MM-DD",
            "month": "YYYY-MM",
            "quarter": 'YYYY-"Q"Q',
            "year": "YYYY",
        }[bucket]
        if bucket == "week":
            local = func.date_trunc("week", local)
        return func.to_char(local, fmt)
    mods = offset_sqlite(col, zone) if moment else []
    if bucket == "day":
        return func.strftime("%Y-%m-%d", col, *mods)
    if bucket == "week":
        return func.date(col, *mods, "-6 days", "weekday 1")
    if bucket == "month":
        return func.strftime("%Y-%m", col, *mods)
    if bucket == "quarter":
        month = cast(func.strftime("%m", col, *mods), Integer)
        return (
            func.strftime("%Y", col, *mods)
            + "-Q"
            + cast((month + 2).self_group().op("/")(3), String)
        )
    return func.strftime("%Y", col, *mods)


def span(key: str, bucket: str) -> tuple[date, date] | None:
    """The first and last day of the bucket ``key`` (None when it cannot be read)."""
    try:
        if bucket in ("day", "week"):
            first = date.fromisoformat(key)
            return first, first + timedelta(days=0 if bucket == "day" else 6)
        if bucket == "month":
            y, m = (int(p) for p in key.split("-"))
            return date(y, m, 1), date(y, m, monthrange(y, m)[1])
        if bucket == "quarter":
            y, q = (int(p) for p in key.split("-Q"))
            return date(y, 3 * q - 2, 1), date(y, 3 * q, monthrange(y, 3 * q)[1])
        if bucket == "year":
            return date(int(key), 1, 1), date(int(key), 12, 31)
    except (ValueError, TypeError):
        return None
    return None


def label(key: str | None, bucket: str, fm: l10n.Formats | None = None) -> str:
    """The bucket ``key`` in the reader's language: 29 Mar 2026, Week of 23 Mar 2026,
    Mar 2026 (2026年3月), Q1 2026, 2026."""
    if key is None:
        return ""
    fm = fm or l10n.current()
    days = span(key, bucket)
    if days is None:
        return key
    first = days[0]
    if bucket == "day":
        return fm.day(first)
    if bucket == "week":
        return _("Week of %(day)s", day=fm.day(first))
    if bucket == "month":
        return format_skeleton("yMMM", first, locale=fm.babel)
    if bucket == "quarter":
        return format_skeleton("yQQQ", first, locale=fm.babel)
    return str(first.year)
