"""Date types: a calendar day, a moment (stored as naive UTC)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from wtforms import widgets

from crm.metadata.spec import FieldSpec
from crm.metadata.types.base import FieldType, blank, fixed
from crm.metadata.types.filters import DATE_OPS, canon_value, one, pair, relative_range
from crm.metadata.types.forms import ParsedField, form_field
from crm.timeutil import utcnow

DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
_DATE_ONLY = re.compile(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*")


def parse_date(spec: FieldSpec, value: Any) -> date | None:
    """A calendar day from ISO text (YYYY-MM-DD), a date or a datetime."""
    if blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    s = str(value).strip()
    if not DATE_RE.fullmatch(s):
        raise ValueError("Enter a date as YYYY-MM-DD.")
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{s} is not a date.") from None


def _parse_datetime(spec: FieldSpec, value: Any) -> datetime | None:
    if blank(value):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return datetime.combine(value, time())
    else:
        s = str(value).strip()
        if not _DATETIME_RE.fullmatch(s):
            raise ValueError("Enter a date and time as YYYY-MM-DD HH:MM.")
        try:
            moment = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{s} is not a date and time.") from None
    if moment.tzinfo is not None:  # stored as naive UTC
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _format_moment(spec: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    return value.isoformat() if isinstance(value, date) else str(value)


def _day_span(spec: FieldSpec, value: Any) -> tuple[Any, Any]:
    d = one(spec, value, parse_date)
    return d, d + timedelta(days=1)


def _moment_span(spec: FieldSpec, value: Any) -> tuple[Any, Any]:
    """On a datetime field a plain date means that whole day."""
    raw = value[0] if isinstance(value, list | tuple) and len(value) == 1 else value
    if isinstance(raw, str) and DATE_RE.fullmatch(raw.strip()):
        d = parse_date(spec, raw)
        return datetime.combine(d, time()), datetime.combine(d + timedelta(days=1), time())
    moment = one(spec, value, _parse_datetime)
    return moment, moment + timedelta(microseconds=1)


def _date_filter(span, moments: bool):
    """The filter builder of a date type: ``span(spec, value)`` is the ``[start, end)`` a
    value means in the column's own type."""

    def build(ftype, spec: FieldSpec, col: Any, op: str, value: Any, *_: Any):
        if op in ("empty", "not_empty"):
            return col.is_(None) if op == "empty" else col.is_not(None)
        if op == "relative":
            name = value[0] if isinstance(value, list | tuple) and len(value) == 1 else value
            start, end = relative_range(str(name), utcnow().date())
            if moments:
                start, end = datetime.combine(start, time()), datetime.combine(end, time())
            return sa.and_(col >= start, col < end)
        if op == "between":
            low, high = pair(value)
            parts = []
            if not blank(low):
                parts.append(col >= span(spec, low)[0])
            if not blank(high):
                parts.append(col < span(spec, high)[1])
            return sa.and_(*parts)
        start, end = span(spec, value)
        if op == "before":
            return col < start
        if op == "after":
            return col >= end
        return sa.and_(col >= start, col < end)

    return build


def _moment_value(ftype, field: FieldSpec, op: str, text: str, lenient: bool):
    """A whole day is kept as a day; a moment as its ISO text."""
    if _DATE_ONLY.fullmatch(text):
        day = parse_date(field, text)
        return day.isoformat(), day
    return canon_value(ftype, field, op, text, lenient)


_DATES = {
    "operators": DATE_OPS, "temporal": True, "filter_input": "date", "format": _format_moment,
    "op_words": {"eq": "is on"}, "sort_words": ("oldest first", "newest first"),
    "index_by_default": True, "aggregates": ("count", "min", "max"),
}  # fmt: skip

ENTRIES = (
    FieldType(
        key="date", label="Date", description="A calendar day.", position=70, **_DATES,
        sa_type=fixed(sa.Date), form_field=form_field(ParsedField, widgets.DateInput()),
        widget="date", parse=parse_date, storage="date",
        filter_sql=_date_filter(_day_span, moments=False),
    ),
    FieldType(
        key="datetime", label="Date and time",
        description="A moment: a day and a time of day (stored in UTC).", position=80, **_DATES,
        sa_type=fixed(sa.DateTime),
        form_field=form_field(ParsedField, widgets.DateTimeLocalInput()),
        widget="datetime-local", parse=_parse_datetime, storage="datetime",
        filter_sql=_date_filter(_moment_span, moments=True), filter_value=_moment_value,
    ),
)  # fmt: skip
