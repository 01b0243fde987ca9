"""Effect: conversion (win rate) and cycle time before and after go-live."""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median
from typing import Any

from sqlalchemy import func, select

from crm.analytics.adoption.period import Period, _dt, _readable
from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.pipelines.models import StageMove
from crm.pipelines.rules import pipelines_for
from crm.records.query import scoped, table_of

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
