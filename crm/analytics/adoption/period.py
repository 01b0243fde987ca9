"""The period of an adoption evaluation and the helpers every part of it shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select

from crm.access import policy
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.golive.models import DONE, GoLivePack
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.timeutil import utcnow

MIN_GROUP = 3  # fewer people than this: no figures for readers below the administrator
MAX_WEEKS = 53
DEFAULT_WEEKS = 8


@dataclass(frozen=True)
class Period:
    start: date  # a Monday
    weeks: int
    golive: date | None = None

    @property
    def end(self) -> date:  # exclusive
        return self.start + timedelta(weeks=self.weeks)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def week_starts(self) -> list[date]:
        return [self.start + timedelta(weeks=i) for i in range(self.weeks)]


def monday_of(d: date) -> date:
    return d - timedelta(days=d.weekday())


def default_golive() -> date | None:
    """The day the first go-live pack finished (None: no pack finished)."""
    at = db.session.scalar(
        select(func.min(GoLivePack.finished_at)).where(GoLivePack.status == DONE)
    )
    return at.date() if at is not None else None


def period_from(args: Any, today: date | None = None) -> Period:
    """The period asked for (``weeks`` 1..53 ending with this week, ``golive`` an ISO date
    within 20 years of today); ``ValidationFailed`` naming the field for anything else."""
    today = today or utcnow().date()
    raw = str(args.get("weeks") or DEFAULT_WEEKS).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WEEKS:
        raise ValidationFailed(_weeks_message(), errors={"weeks": [_weeks_message()]})
    weeks = int(raw)
    golive = default_golive()
    text = str(args.get("golive") or "").strip()
    if text:
        try:
            golive = date.fromisoformat(text[:10])
        except ValueError:
            raise ValidationFailed(
                _golive_message(), errors={"golive": [_golive_message()]}
            ) from None
        if abs((golive - today).days) > 20 * 366:
            raise ValidationFailed(_golive_message(), errors={"golive": [_golive_message()]})
    start = monday_of(today) - timedelta(weeks=weeks - 1)
    return Period(start, weeks, golive)


def _weeks_message() -> str:
    from flask_babel import gettext as _

    return _("Choose between 1 and %(most)s weeks.", most=MAX_WEEKS)


def _golive_message() -> str:
    from flask_babel import gettext as _

    return _("Give the go-live date as a date (YYYY-MM-DD) within twenty years of today.")


def moment(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def weekly_counts(column, period: Period) -> list:
    """One ``SUM(CASE ...)`` per week of ``period`` over a timestamp column: a weekly series
    in one statement on both databases (no dialect's date functions)."""
    return [
        func.sum(
            case(
                (and_(column >= moment(w), column < moment(w + timedelta(weeks=1))), 1),
                else_=0,
            )
        )
        for w in period.week_starts
    ]


def readable_entities(reader: Any) -> list[EntitySpec]:
    return [s for s in specs.current().active_entities if policy.can(reader, "read", s.key)]
