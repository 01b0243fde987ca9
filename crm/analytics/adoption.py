"""The adoption evaluation: is the CRM used, by whom, how much of it, how often, how
complete is its data, and what changed after go-live.

Figures only, never one person's behaviour: people are counted per department and per
role, and for readers who are not full administrators a group of fewer than
``MIN_GROUP`` people shows no figures (a department of one would be that person).

Everything is aggregated in SQL: usage from ``usage_days`` (``crm.analytics.usage``),
records from the entity tables through the scoped query layer (the reader's own scope:
an access manager who reads only their department's accounts gets those accounts' fill
rates), activities, stage moves and rule runs from their system tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import and_, case, func, literal, not_, select

from crm.access import policy
from crm.access.models import Department, Role, User, user_roles
from crm.activities.models import Activity
from crm.analytics.models import UsageDay
from crm.automation.models import AutomationRule, RuleRun
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.golive.models import DONE, GoLivePack
from crm.metadata import specs
from crm.metadata.models import ListViewRow
from crm.metadata.spec import EntitySpec
from crm.pipelines.models import StageMove
from crm.pipelines.rules import pipelines_for
from crm.records.query import scoped, table_of
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


def _monday(d: date) -> date:
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
    start = _monday(today) - timedelta(weeks=weeks - 1)
    return Period(start, weeks, golive)


def _weeks_message() -> str:
    from flask_babel import gettext as _

    return _("Choose between 1 and %(most)s weeks.", most=MAX_WEEKS)


def _golive_message() -> str:
    from flask_babel import gettext as _

    return _("Give the go-live date as a date (YYYY-MM-DD) within twenty years of today.")


def _dt(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def _weekly(column, period: Period) -> list:
    """One ``SUM(CASE ...)`` per week of ``period`` over a timestamp column: a weekly series
    in one statement on both databases (no dialect's date functions)."""
    return [
        func.sum(case((and_(column >= _dt(w), column < _dt(w + timedelta(weeks=1))), 1), else_=0))
        for w in period.week_starts
    ]


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
                Activity.happened_at >= _dt(period.start), Activity.happened_at < _dt(period.end)
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
        weekly[_monday(day)].add(user_id)
        daily[_monday(day)] += 1
    for w, week in weeks.items():
        week.weekly_active = len(weekly.get(w, ()))
        week.daily_active = daily.get(w, 0) / 7
    for spec in _readable(reader):
        table = table_of(spec)
        row = db.session.execute(
            scoped(reader, spec, "read", columns=_weekly(table.c.created_at, period)).where(
                table.c.created_at >= _dt(period.start), table.c.created_at < _dt(period.end)
            )
        ).one()
        for w, n in zip(period.week_starts, row, strict=True):
            weeks[w].created += int(n or 0)
    row = db.session.execute(
        select(*_weekly(Activity.happened_at, period)).where(
            Activity.happened_at >= _dt(period.start), Activity.happened_at < _dt(period.end)
        )
    ).one()
    for w, n in zip(period.week_starts, row, strict=True):
        weeks[w].activities = int(n or 0)
    return [weeks[w] for w in period.week_starts]


def _readable(reader: Any) -> list[EntitySpec]:
    return [s for s in specs.current().active_entities if policy.can(reader, "read", s.key)]


# --- data completeness ------------------------------------------------------------------


@dataclass
class Completeness:
    spec: EntitySpec
    records: int
    fill: list[tuple[Any, int]]  # (field spec, records with a value)
    without_owner: int
    without_activity: int

    def rate(self, n: int) -> float:
        return n / self.records if self.records else 0.0


def completeness(reader: Any) -> list[Completeness]:
    """Per entity the reader may read: fill count of every field they may read (one
    statement: ``COUNT(column)`` each), records without owner; and records without any
    activity (a second statement)."""
    out = []
    for spec in _readable(reader):
        table = table_of(spec)
        fields = [
            f
            for f in policy.visible_fields(reader, spec, "read")
            if f.key in table.c and not f.archived
        ]
        columns = [func.count().label("n"), func.count(table.c.owner_id).label("owned")]
        columns += [func.count(table.c[f.key]) for f in fields]
        row = db.session.execute(scoped(reader, spec, "read", columns=columns)).one()
        n, owned, counts = int(row[0]), int(row[1]), row[2:]
        has_activity = (
            select(literal(1))
            .where(Activity.entity_key == spec.key, Activity.record_id == table.c.id)
            .exists()
        )
        without_activity = db.session.scalar(
            scoped(reader, spec, "read", columns=[func.count()]).where(not_(has_activity))
        )
        out.append(
            Completeness(
                spec,
                n,
                [(f, int(c or 0)) for f, c in zip(fields, counts, strict=True)],
                n - owned,
                int(without_activity or 0),
            )
        )
    return out


# --- depth ------------------------------------------------------------------------------


@dataclass
class Used:
    kind: str  # "view", "pipeline", "rule", "report"
    entity_key: str
    name: str
    uses: int


def depth(reader: Any, period: Period) -> list[Used]:
    """How often each configured shared list view, pipeline and automation rule was used
    in the period (opened, moved through, run); reports once they are recorded."""
    out: list[Used] = []
    readable = {s.key for s in _readable(reader)}
    view_uses = dict(
        db.session.execute(
            select(UsageDay.detail, func.sum(UsageDay.count))
            .where(
                UsageDay.day >= period.start,
                UsageDay.day < period.end,
                UsageDay.detail.like("view:%"),
            )
            .group_by(UsageDay.detail)
        ).all()
    )
    for v in db.session.scalars(select(ListViewRow).where(ListViewRow.owner_id.is_(None))):
        if v.entity_key in readable:
            out.append(Used("view", v.entity_key, v.name, int(view_uses.get(f"view:{v.id}", 0))))
    moves = dict(
        ((k, p), n)
        for k, p, n in db.session.execute(
            select(StageMove.entity_key, StageMove.pipeline, func.count())
            .where(StageMove.at >= _dt(period.start), StageMove.at < _dt(period.end))
            .group_by(StageMove.entity_key, StageMove.pipeline)
        )
    )
    boards = {
        (k, detail): int(n or 0)
        for k, detail, n in db.session.execute(
            select(UsageDay.entity_key, UsageDay.detail, func.sum(UsageDay.count))
            .where(
                UsageDay.day >= period.start, UsageDay.day < period.end, UsageDay.kind == "board"
            )
            .group_by(UsageDay.entity_key, UsageDay.detail)
        )
    }
    for spec in _readable(reader):
        found = pipelines_for(spec)
        for p in found.active if found is not None else ():
            # moved through, or its board opened (a board without ``?pipeline=`` is the default's)
            opened = boards.get((spec.key, f"pipeline:{p.key}"), 0)
            if found.default is not None and found.default.key == p.key:
                opened += boards.get((spec.key, ""), 0)
            out.append(
                Used("pipeline", spec.key, p.name, int(moves.get((spec.key, p.key), 0)) + opened)
            )
    runs = dict(
        db.session.execute(
            select(RuleRun.rule_id, func.count())
            .where(RuleRun.at >= _dt(period.start), RuleRun.at < _dt(period.end))
            .group_by(RuleRun.rule_id)
        ).all()
    )
    for rule in db.session.scalars(select(AutomationRule).where(AutomationRule.enabled.is_(True))):
        if rule.entity_key in readable:
            out.append(Used("rule", rule.entity_key, rule.name, int(runs.get(rule.id, 0))))
    out += _reports_used(readable, period)
    return out


def _reports_used(readable: set[str], period: Period) -> list[Used]:
    """Each saved report shared with roles (opened, or drawn on a dashboard); private
    reports together, unnamed (one person's own work)."""
    from flask_babel import gettext as _

    from crm.access import names
    from crm.reports.models import ReportShare, SavedReport

    uses = dict(
        db.session.execute(
            select(UsageDay.detail, func.sum(UsageDay.count))
            .where(
                UsageDay.day >= period.start,
                UsageDay.day < period.end,
                UsageDay.kind == "report",
                UsageDay.detail.like("report:%"),
            )
            .group_by(UsageDay.detail)
        ).all()
    )
    shared = set(db.session.scalars(select(ReportShare.report_id).distinct()))
    out: list[Used] = []
    private = 0
    for r in db.session.scalars(select(SavedReport).order_by(SavedReport.name)):
        n = int(uses.get(f"report:{r.id}", 0) or 0)
        if r.id not in shared:
            private += n
        elif r.entity_key in readable:
            out.append(Used("report", r.entity_key, names.shown(r.name, r.translations), n))
    if private:
        out.append(Used("report", "", _("Private reports"), private))
    return out


# --- effect -----------------------------------------------------------------------------


@dataclass
class Effect:
    spec: EntitySpec
    pipeline: str
    # "before" / "after" go-live -> figures
    closed: dict[str, int] = field(default_factory=dict)
    won: dict[str, int] = field(default_factory=dict)
    cycle_days: dict[str, float | None] = field(default_factory=dict)

    def win_rate(self, side: str) -> float | None:
        closed = self.closed.get(side, 0)
        return self.won.get(side, 0) / closed if closed else None


def effect(reader: Any, period: Period) -> list[Effect]:
    """Per pipeline: deals closed, won, the win rate and the median cycle time (days from a
    record's first stage move to its win) in the period before go-live and after it (both
    inside the period); records the reader may read only. Empty without a go-live date."""
    if period.golive is None:
        return []
    cut = _dt(period.golive)
    out = []
    for spec in _readable(reader):
        found = pipelines_for(spec)
        if found is None:
            continue
        table = table_of(spec)
        readable_ids = scoped(reader, spec, "read", columns=[table.c.id]).scalar_subquery()
        for p in found.active:
            won = [s.key for s in p.stages if s.category == "won"]
            closing = [s.key for s in p.stages if s.category != "open"]
            first = (
                select(StageMove.record_id, func.min(StageMove.at).label("first"))
                .where(StageMove.entity_key == spec.key, StageMove.pipeline == p.key)
                .group_by(StageMove.record_id)
                .subquery()
            )
            rows = db.session.execute(
                select(StageMove.at, StageMove.to_stage, first.c.first)
                .join(first, first.c.record_id == StageMove.record_id)
                .where(
                    StageMove.entity_key == spec.key,
                    StageMove.pipeline == p.key,
                    StageMove.to_stage.in_(closing),
                    StageMove.at >= _dt(period.start),
                    StageMove.at < _dt(period.end),
                    StageMove.record_id.in_(readable_ids),
                )
            ).all()
            e = Effect(spec, p.name)
            cycles: dict[str, list[float]] = {"before": [], "after": []}
            for at, to_stage, first_at in rows:
                side = "before" if at < cut else "after"
                e.closed[side] = e.closed.get(side, 0) + 1
                if to_stage in won:
                    e.won[side] = e.won.get(side, 0) + 1
                    cycles[side].append((at - first_at).total_seconds() / 86400)
            e.cycle_days = {k: (median(v) if v else None) for k, v in cycles.items()}
            out.append(e)
    return out


@dataclass
class Evaluation:
    period: Period
    departments: list[Group]
    roles: list[Group]
    weeks: list[Week]
    completeness: list[Completeness]
    used: list[Used]
    effects: list[Effect]
    never_signed_in: int
    people: int


def evaluate(reader: Any, period: Period) -> Evaluation:
    """Every figure of the evaluation for ``reader`` over ``period``."""
    departments, roles = breadth(reader, period)
    never = db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.is_active.is_(True), User.last_login_at.is_(None))
    )
    people = db.session.scalar(
        select(func.count()).select_from(User).where(User.is_active.is_(True))
    )
    return Evaluation(
        period,
        departments,
        roles,
        frequency(reader, period),
        completeness(reader),
        depth(reader, period),
        effect(reader, period),
        int(never or 0),
        int(people or 0),
    )
