"""Date types: a calendar day, a moment (stored as naive UTC).

``parse`` reads the machine forms (ISO; a moment without an offset is UTC); ``read``
(``FieldType.parse_input``) reads what a person types in their language, a moment in
their time zone (``l10n``; ``crm.timeutil`` for the nights the clocks change). Days are
written in the language's medium form, moments in the user's time zone.

A day has no time zone: 31 December is 31 December everywhere. A moment's day does: a
filter "Created is on 31 December" or "Created today" means that day in the user's time
zone (its local midnight to the next), so a user in Shanghai and one in Madrid asking at
the same instant may mean different days.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import widgets

from crm import timeutil
from crm.metadata.spec import FieldSpec
from crm.metadata.types import importing, l10n
from crm.metadata.types.base import FieldType, blank, fixed
from crm.metadata.types.filters import DATE_OPS, pair, relative_range
from crm.metadata.types.forms import ParsedField, form_field
from crm.metadata.types.l10n import Formats

DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
_DATE_ONLY = re.compile(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*")
_LOCAL_INPUT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?")


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
        raise ValueError(_("Enter a date as YYYY-MM-DD."))
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise ValueError(_("%(value)s is not a date.", value=s)) from None


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
            raise ValueError(_("Enter a date and time as YYYY-MM-DD HH:MM."))
        try:
            moment = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(_("%(value)s is not a date and time.", value=s)) from None
    if moment.tzinfo is not None:  # stored as naive UTC
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def read_date(spec: FieldSpec, value: Any, fm: Formats) -> date | None:
    """A day as a person types it in their language (31/12/2026 in Spanish), or ISO."""
    if not isinstance(value, str) or blank(value):
        return parse_date(spec, value)
    try:
        day = fm.read_date(value)
    except ValueError:
        shown = value.strip()[:40]
        if DATE_RE.fullmatch(shown):  # the form was right, the day is not (2026-02-30)
            raise ValueError(_("%(value)s is not a date.", value=shown)) from None
        raise ValueError(
            _(
                "%(value)s is not a date. Enter a date such as %(example)s (or %(iso)s).",
                value=shown,
                example=fm.date_example(),
                iso="2026-12-31",
            )
        ) from None
    if day is None:
        raise ValueError(
            _(
                "Enter a date such as %(example)s (or %(iso)s).",
                example=fm.date_example(),
                iso="2026-12-31",
            )
        )
    return day


def read_moment(spec: FieldSpec, value: Any, fm: Formats) -> datetime | None:
    """A date and time as a person types it in their language, in their time zone
    (an explicit offset wins), as naive UTC. A time the clocks skip is refused."""
    if not isinstance(value, str) or blank(value):
        return _parse_datetime(spec, value)
    try:
        moment = fm.read_moment(value)
    except timeutil.NonexistentTime as exc:
        raise ValueError(
            _(
                "%(time)s does not exist in the time zone %(zone)s: the clocks go forward "
                "that night. Enter a time before or after the change.",
                time=exc.local.strftime("%H:%M"),
                zone=exc.zone,
            )
        ) from None
    except ValueError:
        raise ValueError(_("%(value)s is not a date and time.", value=value.strip()[:40])) from None
    if moment is None:
        raise ValueError(
            _("Enter a date and time such as %(example)s.", example=fm.moment_example())
        )
    return moment


# --- writing -------------------------------------------------------------------------------


def _show_date(spec: FieldSpec, fm: Formats):
    day = fm.day
    return lambda v: day(v.date() if isinstance(v, datetime) else v)


def _show_moment(spec: FieldSpec, fm: Formats):
    def show(v: Any) -> str:
        if isinstance(v, datetime):
            return fm.moment(v)
        return fm.day(v) if isinstance(v, date) else str(v)

    return show


def _edit_date(spec: FieldSpec, value: Any, fm: Formats) -> str:
    """ISO: what ``<input type=date>`` shows (in the browser's own words)."""
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _edit_moment(spec: FieldSpec, value: Any, fm: Formats) -> str:
    """The user's wall-clock time, as ``<input type=datetime-local>`` takes it."""
    if isinstance(value, datetime):
        return fm.local_input(value)
    return value.isoformat() if isinstance(value, date) else str(value)


def _date_hint(spec: FieldSpec, raw: str, value: Any, fm: Formats) -> str | None:
    """A day typed other than as ISO (03/04/2026) is said back in words."""
    if DATE_RE.fullmatch(raw.strip()):
        return None
    return _("Read as %(date)s.", date=fm.long_day(value))


def _moment_hint(spec: FieldSpec, raw: str, value: Any, fm: Formats) -> str | None:
    if _LOCAL_INPUT.fullmatch(raw.strip()):
        return None
    return _("Read as %(moment)s.", moment=fm.moment(value))


def _csv_date(spec: FieldSpec, value: Any, fm: Formats) -> str:
    return _edit_date(spec, value, fm)


def _csv_moment(spec: FieldSpec, value: Any, fm: Formats) -> str:
    """The user's wall-clock time, ISO-like (2026-12-31 14:30): what spreadsheets read."""
    if not isinstance(value, datetime):
        return _edit_date(spec, value, fm)
    local = timeutil.to_local(value, fm.zone)
    return local.isoformat(sep=" ", timespec="seconds" if local.second else "minutes")


def _sheet_date(spec: FieldSpec, value: Any, fm: Formats) -> tuple[Any, str | None]:
    return (value.date() if isinstance(value, datetime) else value), "yyyy-mm-dd"


def _sheet_moment(spec: FieldSpec, value: Any, fm: Formats) -> tuple[Any, str | None]:
    """A real date and time, in the user's zone (spreadsheets have no time zones)."""
    if not isinstance(value, datetime):
        return _sheet_date(spec, value, fm)
    return timeutil.to_local(value, fm.zone), "yyyy-mm-dd hh:mm"


# --- filters -------------------------------------------------------------------------------


def _one(value: Any) -> Any:
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise ValueError(_("Enter one value for this filter."))
        value = value[0]
    if blank(value):
        raise ValueError(_("Enter a value for this filter."))
    return value


def _day_span(spec: FieldSpec, value: Any, fm: Formats) -> tuple[Any, Any]:
    d = read_date(spec, _one(value), fm)
    return d, (d + timedelta(days=1) if d < date.max else None)  # None: no end (9999-12-31)


def _is_day(value: Any, fm: Formats) -> date | None:
    """The day a filter value names when it is a day alone (in any accepted form)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return fm.read_date(value)
    except ValueError:
        return None


def _moment_span(spec: FieldSpec, value: Any, fm: Formats) -> tuple[Any, Any]:
    """On a datetime field a day alone means that whole day in the user's time zone."""
    raw = _one(value)
    day = _is_day(raw, fm)
    if day is not None:
        # The first and last days a date can be have no moment before or after them in
        # some zones: the span is then open at that end (None).
        try:
            start = timeutil.day_start(day, fm.zone)
        except OverflowError:
            start = None
        try:
            end = timeutil.day_start(day + timedelta(days=1), fm.zone)
        except OverflowError:
            end = None
        return start, end
    moment = read_moment(spec, raw, fm)
    return moment, moment + timedelta(microseconds=1)


def _date_filter(span, moments: bool):
    """The filter builder of a date type: ``span(spec, value, formats)`` is the ``[start,
    end)`` a value means in the column's own type, in the request's language and zone."""

    def build(ftype, spec: FieldSpec, col: Any, op: str, value: Any, *_args: Any):
        if op in ("empty", "not_empty"):
            return col.is_(None) if op == "empty" else col.is_not(None)
        fm = l10n.current()
        if op == "relative":
            name = value[0] if isinstance(value, list | tuple) and len(value) == 1 else value
            start, end = relative_range(str(name), fm.today())
            if moments:
                start, end = timeutil.day_span(start, end, fm.zone)
            return sa.and_(col >= start, col < end)
        if op == "between":
            low, high = pair(value)
            parts = []
            if not blank(low) and span(spec, low, fm)[0] is not None:
                parts.append(col >= span(spec, low, fm)[0])
            if not blank(high) and span(spec, high, fm)[1] is not None:
                parts.append(col < span(spec, high, fm)[1])
            return sa.and_(sa.true(), *parts)
        start, end = span(spec, value, fm)
        if op == "before":
            return col < start if start is not None else sa.false()
        if op == "after":
            return col >= end if end is not None else sa.false()
        return sa.and_(
            col >= start if start is not None else col.is_not(None),
            col < end if end is not None else sa.true(),
        )

    return build


def _date_value(ftype, field: FieldSpec, op: str, text: str, lenient: bool):
    """A day typed in any accepted form is kept as ISO."""
    day = read_date(field, text, l10n.current())
    if day is None:
        raise ValueError(_("Enter a value."))
    return day.isoformat(), day


def _moment_value(ftype, field: FieldSpec, op: str, text: str, lenient: bool):
    """A whole day is kept as a day (ISO: the user's day wherever the view is read); a
    moment as ISO UTC with its "Z", so whoever reads it reads the same instant. A stored
    view's value (``lenient``) is a machine form: one without an offset, kept before
    moments were marked, meant UTC."""
    fm = l10n.current()
    day = _is_day(text, fm)
    if day is not None:
        return day.isoformat(), datetime.combine(day, time())
    moment = None
    if lenient and _DATETIME_RE.fullmatch(text.strip()):
        moment = _parse_datetime(field, text)
    if moment is None:
        moment = read_moment(field, text, fm)
    if moment is None:
        raise ValueError(_("Enter a value."))
    stamp = moment.isoformat(timespec="seconds" if moment.second else "minutes")
    return f"{stamp}Z", moment


def _describe_moment(spec: FieldSpec, text: str) -> str:
    """A stored filter value (a day, or a moment in ISO UTC) as the user's language
    writes it, a moment in the user's time zone."""
    fm = l10n.current()
    day = _is_day(text, fm)
    if day is not None and DATE_RE.fullmatch(text.strip()):
        return fm.day(day)
    try:
        moment = _parse_datetime(spec, text)
    except ValueError:
        return text
    return fm.moment(moment) if moment is not None else text


_DATES = {
    "operators": DATE_OPS, "temporal": True, "filter_input": "date",
    "op_words": {"eq": _l("is on")}, "sort_words": (_l("oldest first"), _l("newest first")),
    "index_by_default": True, "aggregates": ("count", "min", "max"),
}  # fmt: skip

ENTRIES = (
    FieldType(
        key="date", label=_l("Date"), description=_l("A calendar day."), position=70, **_DATES,
        sa_type=fixed(sa.Date), form_field=form_field(ParsedField, widgets.DateInput()),
        widget="date", parse=parse_date, read=read_date, show=_show_date, edit=_edit_date,
        read_hint=_date_hint, csv=_csv_date, sheet=_sheet_date, storage="date",
        filter_sql=_date_filter(_day_span, moments=False), filter_value=_date_value,
        parse_import=importing.day,
    ),
    FieldType(
        key="datetime", label=_l("Date and time"),
        description=_l("A moment: a day and a time of day (shown in each user's time zone)."),
        position=80, **_DATES,
        sa_type=fixed(sa.DateTime),
        form_field=form_field(ParsedField, widgets.DateTimeLocalInput()),
        widget="datetime-local", parse=_parse_datetime, read=read_moment, show=_show_moment,
        edit=_edit_moment, read_hint=_moment_hint, csv=_csv_moment, sheet=_sheet_moment,
        storage="datetime", filter_sql=_date_filter(_moment_span, moments=True),
        filter_value=_moment_value, describe=_describe_moment, parse_import=importing.moment,
    ),
)  # fmt: skip
