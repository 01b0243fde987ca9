"""Effect: conversion (win rate) and cycle time before and after go-live."""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median
from typing import Any

from sqlalchemy import func, select

from crm.access.models import Department, User
from crm.analytics.adoption.period import MIN_GROUP, Period, moment, readable_entities
from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.pipelines.models import StageMove
from crm.pipelines.rules import pipelines_for
from crm.records.query import scoped, table_of

# --- effect -----------------------------------------------------------------------------


@dataclass
class Effect:
    """Closed and won deals and the median cycle time before and after go-live, of one
    pipeline (``department`` None) or of one department's records in it (the department
    of the record's owner; ``hidden``: too few people to show this reader)."""

    spec: EntitySpec
    pipeline: str
    # "before" / "after" go-live -> figures
    closed: dict[str, int] = field(default_factory=dict)
    won: dict[str, int] = field(default_factory=dict)
    cycle_days: dict[str, float | None] = field(default_factory=dict)
    department: str | None = None
    department_id: Any = None
    hidden: bool = False
    departments: list[Effect] = field(default_factory=list)  # of a pipeline's figure

    def win_rate(self, side: str) -> float | None:
        closed = self.closed.get(side, 0)
        return self.won.get(side, 0) / closed if closed else None

    def add(self, side: str, won: bool, cycle: float | None) -> None:
        self.closed[side] = self.closed.get(side, 0) + 1
        if won:
            self.won[side] = self.won.get(side, 0) + 1
            if cycle is not None:
                self._cycles.setdefault(side, []).append(cycle)

    def finish(self) -> None:
        self.cycle_days = {
            k: (median(v) if v else None)
            for k, v in (
                ("before", self._cycles.get("before")),
                ("after", self._cycles.get("after")),
            )
        }

    def __post_init__(self) -> None:
        self._cycles: dict[str, list[float]] = {}


def _departments(reader: Any) -> tuple[dict[Any, str], dict[Any, bool]]:
    """Department id -> name, and -> whether its figures are hidden from ``reader``
    (fewer than ``MIN_GROUP`` active people, for readers below the administrator)."""
    from flask_babel import gettext as _

    names: dict[Any, str] = {None: _("No department")}
    names.update({d.id: d.display_name for d in db.session.scalars(select(Department))})
    sizes = dict(
        db.session.execute(
            select(User.department_id, func.count())
            .where(User.is_active.is_(True))
            .group_by(User.department_id)
        ).all()
    )
    admin = bool(getattr(reader, "is_admin", False))
    hidden = {k: (not admin and sizes.get(k, 0) < MIN_GROUP) for k in names}
    return names, hidden


def effect(reader: Any, period: Period) -> list[Effect]:
    """Per pipeline: deals closed, won, the win rate and the median cycle time (days from a
    record's first stage move to its win) in the period before go-live and after it (both
    inside the period), overall and per department of the record's owner; records the
    reader may read only. Empty without a go-live date."""
    if period.golive is None:
        return []
    cut = moment(period.golive)
    names, hidden = _departments(reader)
    out = []
    for spec in readable_entities(reader):
        found = pipelines_for(spec)
        if found is None:
            continue
        table = table_of(spec)
        readable = (
            scoped(reader, spec, "read", columns=[table.c.id, User.department_id])
            .outerjoin(User, User.id == table.c.owner_id)
            .subquery()
        )
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
                select(StageMove.at, StageMove.to_stage, first.c.first, readable.c.department_id)
                .join(first, first.c.record_id == StageMove.record_id)
                .join(readable, readable.c.id == StageMove.record_id)
                .where(
                    StageMove.entity_key == spec.key,
                    StageMove.pipeline == p.key,
                    StageMove.to_stage.in_(closing),
                    StageMove.at >= moment(period.start),
                    StageMove.at < moment(period.end),
                )
            ).all()
            e = Effect(spec, p.name)
            by_dept: dict[Any, Effect] = {}
            for at, to_stage, first_at, dept in rows:
                side = "before" if at < cut else "after"
                is_won = to_stage in won
                cycle = (at - first_at).total_seconds() / 86400 if is_won else None
                e.add(side, is_won, cycle)
                d = by_dept.get(dept)
                if d is None:
                    d = by_dept[dept] = Effect(
                        spec,
                        p.name,
                        department=names.get(dept, names[None]),
                        department_id=dept,
                        hidden=hidden.get(dept, True),
                    )
                d.add(side, is_won, cycle)
            e.finish()
            for d in by_dept.values():
                d.finish()
            e.departments = sorted(by_dept.values(), key=lambda d: (d.department or "").lower())
            out.append(e)
    return out
