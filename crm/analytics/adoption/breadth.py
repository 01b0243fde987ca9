"""Breadth (people active per department and role, and the areas they used) and
frequency (weekly and daily active people, records created, activities logged)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from crm.access.models import Department, Role, User, user_roles
from crm.activities.models import Activity
from crm.analytics.adoption.period import (
    MIN_GROUP,
    Period,
    moment,
    monday_of,
    readable_entities,
    weekly_counts,
)
from crm.analytics.models import UsageDay
from crm.extensions import db
from crm.records.query import scoped, table_of

# --- breadth ----------------------------------------------------------------------------


@dataclass
class Group:
    """People of one department or role: how many, how many used the CRM in the period,
    and the areas they used (entity key -> distinct people)."""

    key: Any
    name: str
    people: int = 0
    active: int = 0
    areas: dict[str, int] = field(default_factory=dict)
    activities: int = 0  # logged in the period by its people
    hidden: bool = False  # too small to show to this reader

    @property
    def share(self) -> float | None:
        return self.active / self.people if self.people and not self.hidden else None


def _people() -> dict[int, User]:
    return {u.id: u for u in db.session.scalars(select(User).where(User.is_active.is_(True)))}


def _active_users(period: Period) -> dict[int, set[str]]:
    """user id -> the entities (or "" for pages of none) they used in the period."""
    out: dict[int, set[str]] = defaultdict(set)
    rows = db.session.execute(
        select(UsageDay.user_id, UsageDay.entity_key)
        .where(UsageDay.day >= period.start, UsageDay.day < period.end)
        .group_by(UsageDay.user_id, UsageDay.entity_key)
    )
    for user_id, key in rows:
        out[user_id].add(key)
    return out


def _activities_by_user(period: Period) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(Activity.user_id, func.count())
            .where(
                Activity.happened_at >= moment(period.start),
                Activity.happened_at < moment(period.end),
            )
            .group_by(Activity.user_id)
        ).all()
    )


def breadth(reader: Any, period: Period) -> tuple[list[Group], list[Group]]:
    """(departments, roles): people, active people and areas used, per group."""
    people = _people()
    active = _active_users(period)
    logged = _activities_by_user(period)
    departments = {d.id: d for d in db.session.scalars(select(Department))}
    roles = {r.id: r for r in db.session.scalars(select(Role))}
    by_role: dict[int, list[int]] = defaultdict(list)
    for user_id, role_id in db.session.execute(select(user_roles.c.user_id, user_roles.c.role_id)):
        if user_id in people:
            by_role[role_id].append(user_id)
    by_dept: dict[Any, list[int]] = defaultdict(list)
    for u in people.values():
        by_dept[u.department_id].append(u.id)
    from flask_babel import gettext as _

    def group(key: Any, name: str, members: list[int]) -> Group:
        g = Group(key, name, people=len(members))
        g.active = sum(1 for m in members if m in active)
        areas: dict[str, int] = defaultdict(int)
        for m in members:
            for k in active.get(m, ()):
                if k:
                    areas[k] += 1
        g.areas = dict(areas)
        g.activities = sum(logged.get(m, 0) for m in members)
        g.hidden = len(members) < MIN_GROUP and not getattr(reader, "is_admin", False)
        return g

    dept_groups = [
        group(
            d_id, departments[d_id].display_name if d_id in departments else _("No department"), m
        )
        for d_id, m in by_dept.items()
    ]
    role_groups = [
        group(r_id, roles[r_id].display_name, m) for r_id, m in by_role.items() if r_id in roles
    ]
    dept_groups.sort(key=lambda g: g.name.lower())
    role_groups.sort(key=lambda g: g.name.lower())
    return dept_groups, role_groups


# --- frequency --------------------------------------------------------------------------


@dataclass
class Week:
    start: date
    weekly_active: int = 0
    daily_active: float = 0.0  # average over the week's seven days
    created: int = 0
    activities: int = 0

    @property
    def created_per_person(self) -> float:
        return self.created / self.weekly_active if self.weekly_active else 0.0

    @property
    def activities_per_person(self) -> float:
        return self.activities / self.weekly_active if self.weekly_active else 0.0


def frequency(reader: Any, period: Period) -> list[Week]:
    """Per week: people active (WAU), average daily active people (DAU), records created
    (of the entities the reader may read, in their scope) and activities logged."""
    weeks = {w: Week(w) for w in period.week_starts}
    day_users = db.session.execute(
        select(UsageDay.day, UsageDay.user_id)
        .where(UsageDay.day >= period.start, UsageDay.day < period.end)
        .group_by(UsageDay.day, UsageDay.user_id)
    ).all()
    weekly: dict[date, set[int]] = defaultdict(set)
    daily: dict[date, int] = defaultdict(int)
    for day, user_id in day_users:
        weekly[monday_of(day)].add(user_id)
        daily[monday_of(day)] += 1
    for w, week in weeks.items():
        week.weekly_active = len(weekly.get(w, ()))
        week.daily_active = daily.get(w, 0) / 7
    for spec in readable_entities(reader):
        table = table_of(spec)
        row = db.session.execute(
            scoped(reader, spec, "read", columns=weekly_counts(table.c.created_at, period)).where(
                table.c.created_at >= moment(period.start),
                table.c.created_at < moment(period.end),
            )
        ).one()
        for w, n in zip(period.week_starts, row, strict=True):
            weeks[w].created += int(n or 0)
    row = db.session.execute(
        select(*weekly_counts(Activity.happened_at, period)).where(
            Activity.happened_at >= moment(period.start),
            Activity.happened_at < moment(period.end),
        )
    ).one()
    for w, n in zip(period.week_starts, row, strict=True):
        weeks[w].activities = int(n or 0)
    return [weeks[w] for w in period.week_starts]
