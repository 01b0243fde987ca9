"""What every analytics page is filtered by, read from a request in one place: the period
(a preset or two days), the owner and the department. Bad input is refused with a message
for people (``ValidationFailed``), never passed on to a query.

A period is ``[start, end)`` in calendar days of the viewer's time zone; stage moves
(stored in naive UTC) are compared with the moments those days span.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import timeutil
from crm.errors import ValidationFailed
from crm.ids import as_id

MAX_DAYS = 3660  # ten years and a little: a longer period is refused, not computed
MIN_YEAR, MAX_YEAR = 1900, 2200
PRESETS = {
    "this_month": _l("This month"),
    "last_month": _l("Last month"),
    "this_quarter": _l("This quarter"),
    "next_quarter": _l("Next quarter"),
    "this_year": _l("This year"),
    "last_90": _l("Last 90 days"),
}
DEFAULT_PRESET = "this_quarter"
CUSTOM = "custom"  # the days of ``from`` and ``to``


@dataclass(frozen=True)
class Period:
    """Calendar days ``[start, end)`` in ``zone``."""

    start: date
    end: date
    zone: str = "UTC"
    preset: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def moments(self) -> tuple[datetime, datetime]:
        """The period as naive UTC moments ``[start, end)``."""
        return timeutil.day_span(self.start, self.end, self.zone)

    def previous(self) -> Period:
        """The period of the same length just before this one (for comparisons)."""
        if self.start.day == 1 and self.end.day == 1:  # whole months: the months before
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month
            return Period(add_months(self.start, -months), self.start, self.zone)
        return Period(self.start - timedelta(days=self.days), self.start, self.zone)

    def months(self) -> list[date]:
        """The first days of the months the period touches, in order."""
        out, month = [], self.start.replace(day=1)
        while month < self.end:
            out.append(month)
            month = add_months(month, 1)
        return out


def add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def preset_period(name: str, today: date, zone: str = "UTC") -> Period:
    """One of ``PRESETS`` around ``today``."""
    month = today.replace(day=1)
    quarter = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    spans = {
        "this_month": (month, add_months(month, 1)),
        "last_month": (add_months(month, -1), month),
        "this_quarter": (quarter, add_months(quarter, 3)),
        "next_quarter": (add_months(quarter, 3), add_months(quarter, 6)),
        "this_year": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "last_90": (today - timedelta(days=89), today + timedelta(days=1)),
    }
    start, end = spans[name]
    return Period(start, end, zone, name)


def _day(text: str, key: str) -> date:
    try:
        day = date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise ValidationFailed(
            _("Enter the day as YYYY-MM-DD."), errors={key: [_("Enter the day as YYYY-MM-DD.")]}
        ) from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        message = _("Choose a day between %(first)d and %(last)d.", first=MIN_YEAR, last=MAX_YEAR)
        raise ValidationFailed(message, errors={key: [message]})
    return day


def parse_period(args: Mapping[str, Any], zone: str, *, today: date | None = None) -> Period:
    """The period of ``args``: ``period`` when it names a preset, else ``from`` and ``to``
    (both days included), else this quarter. Raises ``ValidationFailed`` for an unreadable day,
    ``to`` before ``from``, a period over ten years or an unknown preset."""
    today = today or timeutil.local_today(zone)
    first, last = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    name = (args.get("period") or "").strip()
    if name in PRESETS:  # a preset chosen wins over the days the form still carries
        return preset_period(name, today, zone)
    if first or last:
        if not (first and last):
            message = _("Give both the first and the last day of the period.")
            raise ValidationFailed(message, errors={"from": [message]})
        start, last_day = _day(first, "from"), _day(last, "to")
        if last_day < start:
            message = _("The last day comes before the first.")
            raise ValidationFailed(message, errors={"to": [message]})
        if (last_day - start).days + 1 > MAX_DAYS:
            message = _("Choose a period of at most ten years.")
            raise ValidationFailed(message, errors={"to": [message]})
        return Period(start, last_day + timedelta(days=1), zone)
    name = name or DEFAULT_PRESET
    if name == CUSTOM:
        name = DEFAULT_PRESET
    if name not in PRESETS:
        message = _("Choose one of the periods offered.")
        raise ValidationFailed(message, errors={"period": [message]})
    return preset_period(name, today, zone)


@dataclass(frozen=True)
class Filters:
    """A period, and optionally one owner (a user id) or one department (an id)."""

    period: Period
    owner_id: int | None = None
    department_id: int | None = None


def parse_filters(args: Mapping[str, Any], zone: str, *, today: date | None = None) -> Filters:
    """``parse_period`` and the ``owner`` and ``department`` ids (empty: everyone the
    viewer sees). Raises ``ValidationFailed`` for an id that is not one."""
    period = parse_period(args, zone, today=today)
    ids = {}
    for key in ("owner", "department"):
        raw = (args.get(key) or "").strip()
        if not raw:
            ids[key] = None
            continue
        value = as_id(raw)
        if value is None or value > 2**31 - 1:
            message = _("Choose one of the people or departments offered.")
            raise ValidationFailed(message, errors={key: [message]})
        ids[key] = value
    return Filters(period, ids["owner"], ids["department"])
