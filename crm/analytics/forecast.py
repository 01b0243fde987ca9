"""The forecast of one pipeline: by month of expected close, by owner and by department,
the amount already won, the weighted pipeline (amount × probability, the stage's or the
record's own where the pipeline allows it) and the best case (every open amount), set
against the targets managers give people per month (``crm.analytics.models.Target``).

The expected-close field is the pipeline's ``close_field`` option, else the first date
field whose key names a close (``close_date``, ``expected_close``). Records the viewer
cannot read are never summed (``crm.analytics.scope.records``); a hidden amount or close
field stops the forecast with a message rather than summing what the viewer cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, func, literal, select

from crm.analytics.filters import Filters
from crm.analytics.models import Target
from crm.analytics.scope import Subject, amount_field, departments_of, names_of, readable, records
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.pipelines import board as boards
from crm.pipelines.spec import STAGE_FIELD, PipelineSpec
from crm.records.query import table_of


def close_field(spec: EntitySpec, pipeline: PipelineSpec) -> FieldSpec | None:
    """The expected-close date field of ``pipeline`` (see the module), or None."""
    wanted = pipeline.options.get("close_field")
    if wanted:
        f = spec.field(wanted)
        return f if f is not None and types.get(f.type).storage == "date" else None
    for f in spec.active_fields:
        if types.get(f.type).storage == "date" and "close" in f.key:
            return f
    return None


@dataclass
class Figures:
    """Sums of one bucket (a month, a person, a department)."""

    won: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)  # won + open x probability
    best: Decimal = Decimal(0)  # won + every open amount
    target: Decimal | None = None

    @property
    def attainment(self) -> float | None:
        """Won as a share of the target (None without one)."""
        if not self.target:
            return None
        return float(self.won / self.target)

    def add(self, other: Figures) -> None:
        self.won += other.won
        self.weighted += other.weighted
        self.best += other.best


@dataclass
class Forecast:
    subject: Subject
    amount: FieldSpec
    close: FieldSpec
    months: dict[date, Figures] = field(default_factory=dict)
    owners: dict[int | None, Figures] = field(default_factory=dict)
    departments: dict[int | None, Figures] = field(default_factory=dict)
    total: Figures = field(default_factory=Figures)
    owner_names: dict[int, str] = field(default_factory=dict)
    department_names: dict[int | None, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MonthBar:
    """One month of the forecast chart: its figures and their widths (0..100) on a scale
    shared by every month (the largest best case or target)."""

    month: date
    figures: Figures
    won: float
    weighted: float
    best: float
    target: float | None


def month_bars(fc: Forecast) -> list[MonthBar]:
    """The forecast's months as chart bars (see ``MonthBar``)."""
    scale = max([Decimal(1)] + [max(f.best, f.target or Decimal(0)) for f in fc.months.values()])

    def width(value: Decimal) -> float:
        return round(float(value / scale * 100), 2)

    return [
        MonthBar(
            m,
            f,
            width(f.won),
            width(f.weighted),
            width(f.best),
            max(width(f.target) - 0.8, 0) if f.target else None,
        )
        for m, f in fc.months.items()
    ]


def _month_sql(column):
    if db.engine.dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def forecast(user: Any, subj: Subject, filters: Filters) -> Forecast:
    """The forecast over the months of the filters' period (see the module). Raises
    ``ValidationFailed`` when the pipeline has no amount or expected-close field the
    viewer may read."""
    amount = amount_field(user, subj)
    if amount is None:
        raise ValidationFailed(
            _("This pipeline has no amount you may read: there is nothing to forecast.")
        )
    close = close_field(subj.spec, subj.pipeline)
    if close is None or close.key not in readable(user, subj.spec):
        raise ValidationFailed(
            _("This pipeline has no expected close date you may read: choose one in its settings.")
        )
    table = table_of(subj.spec)
    weight = boards.probability_sql(subj.spec, user, subj.pipeline, table)
    if weight is None:
        raise ValidationFailed(_("The probability of these records is hidden from you."))
    stages = subj.pipeline.stages
    category = case(
        {s.key: literal(s.category) for s in stages}, value=table.c[STAGE_FIELD], else_=None
    )
    value = func.coalesce(table.c[amount.key], 0)
    month = _month_sql(table.c[close.key]).label("month")
    query = (
        records(
            user,
            subj,
            filters,
            [
                month,
                table.c.owner_id,
                category.label("category"),
                func.sum(value),
                func.sum(value * weight),
            ],
        )
        .where(
            table.c[close.key] >= filters.period.start,
            table.c[close.key] < filters.period.end,
            table.c[STAGE_FIELD].in_([s.key for s in stages if s.category in ("open", "won")]),
        )
        .group_by(month, table.c.owner_id, category)
    )
    result = Forecast(subj, amount, close)
    for m in filters.period.months():
        result.months[m] = Figures()
    rows = db.session.execute(query).all()
    for month_text, owner, cat, total, weighted in rows:
        total = Decimal(str(total or 0))
        weighted = Decimal(str(weighted or 0)) / 100
        f = Figures()
        if cat == "won":
            f.won = f.weighted = f.best = total
        else:
            f.weighted, f.best = weighted, total
        y, mo = (int(p) for p in str(month_text).split("-")[:2])
        result.months.setdefault(date(y, mo, 1), Figures()).add(f)
        result.owners.setdefault(owner, Figures()).add(f)
        result.total.add(f)
    _attach_targets(user, subj, filters, result)
    result.owner_names = names_of(result.owners)
    departments = departments_of(result.owners)
    for owner, figures in result.owners.items():
        did, name = departments.get(owner, (None, ""))
        result.department_names[did] = name or _("No department")
        bucket = result.departments.setdefault(did, Figures())
        bucket.add(figures)
        if figures.target is not None:
            bucket.target = (bucket.target or Decimal(0)) + figures.target
    result.months = dict(sorted(result.months.items()))
    return result


def _attach_targets(user: Any, subj: Subject, filters: Filters, result: Forecast) -> None:
    """Targets of the months of ``period`` for the people whose figures the viewer sees:
    themselves, and when they manage, the people in their reach (``people_in_reach``);
    each target adds to its person, its month and the total."""
    from crm.access.models import Department, User
    from crm.analytics.targets import visible_people

    period = filters.period
    people = visible_people(user, subj.spec.key)
    if filters.owner_id is not None:
        people &= {filters.owner_id}
    if filters.department_id is not None and people:
        department = db.session.get(Department, filters.department_id)
        inside = select(User.id).join(Department, User.department_id == Department.id)
        inside = inside.where(Department.path.startswith(department.path if department else "/-/"))
        people &= set(db.session.scalars(inside))
    if not people:
        return
    rows = db.session.execute(
        select(Target.user_id, Target.month, Target.amount).where(
            Target.entity_key == subj.spec.key,
            Target.user_id.in_(list(people)),
            Target.month >= period.start.replace(day=1),
            Target.month < period.end,
        )
    ).all()
    for uid, month, amount in rows:
        amount = Decimal(str(amount))
        owner = result.owners.setdefault(uid, Figures())
        owner.target = (owner.target or Decimal(0)) + amount
        bucket = result.months.setdefault(month, Figures())
        bucket.target = (bucket.target or Decimal(0)) + amount
        result.total.target = (result.total.target or Decimal(0)) + amount
