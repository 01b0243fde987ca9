"""One notion of "now" and of time zones: moments are stored as naive UTC, identical on
SQLite and PostgreSQL, and converted only where people read or type them.

The rules for clock changes (daylight saving time), used by every input of a date and time:

- a local time that does not exist (Madrid, 29 March 2026: clocks go from 02:00 to 03:00,
  so 02:30 never happens) is refused: ``NonexistentTime``, with a message saying so;
- a local time that happens twice (Madrid, 25 October 2026: clocks go back from 03:00 to
  02:00, so 02:30 happens in summer time, then again in winter time) is read as the
  earlier of the two (summer time: ``fold=0``, what Python and PostgreSQL do too);
- a day in a zone starts at its first moment: local midnight, or the end of the jump
  when a zone skips midnight itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class NonexistentTime(ValueError):
    """A local date and time that the clocks of its zone skip."""

    def __init__(self, local: datetime, zone: str) -> None:
        super().__init__(f"{local:%Y-%m-%d %H:%M} does not exist in {zone}.")
        self.local = local
        self.zone = zone


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime (how every timestamp is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


@lru_cache(maxsize=64)
def zone_info(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` of an IANA name; UTC for an unknown or empty one."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def to_local(moment: datetime, zone: str) -> datetime:
    """A stored moment (naive UTC, or aware) as the naive wall-clock time of ``zone``."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(zone_info(zone)).replace(tzinfo=None)


def to_utc(local: datetime, zone: str, *, strict: bool = True) -> datetime:
    """A wall-clock time of ``zone`` (naive; an aware one keeps its own offset) as naive
    UTC. A time the clocks skip raises ``NonexistentTime`` when ``strict``; otherwise it is
    read with the offset before the jump (02:30 on the spring-forward night in Madrid
    becomes 03:30 summer time, the same instant as 01:30 UTC). A time that happens twice
    is the earlier one."""
    if local.tzinfo is not None:
        return local.astimezone(UTC).replace(tzinfo=None)
    tz = zone_info(zone)
    aware = local.replace(tzinfo=tz, fold=0)
    moment = aware.astimezone(UTC).replace(tzinfo=None)
    if strict and to_local(moment, zone) != local.replace(fold=0):
        raise NonexistentTime(local, zone)
    return moment


def local_today(zone: str, now: datetime | None = None) -> date:
    """The calendar day it is in ``zone`` at ``now`` (naive UTC; default: now)."""
    return to_local(now if now is not None else utcnow(), zone).date()


def day_start(day: date, zone: str) -> datetime:
    """The first moment (naive UTC) of ``day`` in ``zone``: its local midnight, or the end
    of the jump when the zone's clocks skip midnight that day."""
    return to_utc(datetime.combine(day, time()), zone, strict=False)


def day_span(first: date, last_excluded: date, zone: str) -> tuple[datetime, datetime]:
    """The moments ``[start, end)`` (naive UTC) of the days ``[first, last_excluded)``
    in ``zone``."""
    return day_start(first, zone), day_start(last_excluded, zone)
