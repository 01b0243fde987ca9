"""Pipeline analytics from the stage history (``crm.pipelines.models.StageMove``):
conversion from stage to stage, time in stage (median and 90th percentile), win rate by
owner and by a source picklist, and stale deals. Every figure counts only records the
viewer may read (``crm.analytics.scope.records``) and groups by no hidden field.

Definitions (the tests compute them independently):

- conversion: a record *reached* an open stage when it ever entered that stage or a
  later one (a skipped stage counts as passed), and the won stage when it entered a won
  stage. The cohort is the records that entered the pipeline (their first move) in the
  period. The conversion of stage N is ``reached(N+1) / reached(N)``.
- time in stage: per record and stage, the seconds spent in the stage summed over the
  moves that left it in the period; the median and 90th percentile over records use
  linear interpolation (PostgreSQL's ``percentile_cont``; the same in Python elsewhere).
- win rate: records now in a won or lost stage, who entered it in the period:
  ``won / (won + lost)`` per owner, and per value of the source picklist.
- stale: records in an open stage whose last move is older than N days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import format_timedelta
from sqlalchemy import and_, case, func, literal, select

from crm.analytics.filters import Filters
from crm.analytics.scope import Subject, names_of, readable, records
from crm.extensions import db
from crm.metadata import types
from crm.metadata.spec import FieldSpec
from crm.pipelines.models import StageMove
from crm.pipelines.rules import stage_name
from crm.pipelines.spec import STAGE_FIELD
from crm.records.query import table_of
from crm.timeutil import utcnow

MAX_STALE_DAYS = 3650
STALE_LIST = 20


def _moves(subj: Subject):
    return and_(StageMove.entity_key == subj.spec.key, StageMove.pipeline == subj.pipeline.key)


@dataclass(frozen=True)
class Step:
    key: str
    name: str
    reached: int
    converted: float | None  # share reaching the next step (None for the last)

    @property
    def percent(self) -> str:
        return "" if self.converted is None else f"{self.converted * 100:.0f} %"


def conversion(user: Any, subj: Subject, filters: Filters) -> list[Step]:
    """The funnel of the pipeline's open stages and its won stage (see the module)."""
    stages = [s for s in subj.pipeline.active_stages if not s.closed]
    won = [s for s in subj.pipeline.active_stages if s.category == "won"]
    positions = {s.key: i for i, s in enumerate(stages)}
    positions.update({s.key: len(stages) for s in won})
    if not positions:
        return []
    position = case(
        {k: literal(v) for k, v in positions.items()}, value=StageMove.to_stage, else_=None
    )
    start, end = filters.period.moments()
    per_record = (
        select(
            StageMove.record_id,
            func.min(StageMove.at).label("first"),
            func.max(position).label("reached"),
        )
        .where(_moves(subj), StageMove.record_id.in_(records(user, subj, filters)))
        .group_by(StageMove.record_id)
        .subquery()
    )
    rows = db.session.execute(
        select(per_record.c.reached, func.count())
        .where(
            per_record.c.first >= start,
            per_record.c.first < end,
            per_record.c.reached.is_not(None),
        )
        .group_by(per_record.c.reached)
    ).all()
    at_most = {int(r): int(n) for r, n in rows}
    steps_stages = stages + won[:1]
    counts = []
    for i in range(len(steps_stages)):
        counts.append(sum(n for r, n in at_most.items() if r >= i))
    out = []
    for i, s in enumerate(steps_stages):
        nxt = counts[i + 1] / counts[i] if i + 1 < len(counts) and counts[i] else None
        if i + 1 < len(counts) and not counts[i]:
            nxt = None
        out.append(Step(s.key, stage_name(s), counts[i], nxt))
    return out


def percentile(values: list[float], p: float) -> float | None:
    """``percentile_cont(p)`` of sorted ``values`` (linear interpolation); None if empty."""
    if not values:
        return None
    rank = p * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


@dataclass(frozen=True)
class StageTime:
    key: str
    name: str
    records: int
    median: float | None  # seconds
    p90: float | None

    @staticmethod
    def words(seconds: float | None) -> str:
        """A duration in the reader's language ("3 days"), or "—"."""
        if seconds is None:
            return "—"
        return format_timedelta(timedelta(seconds=seconds), threshold=0.95)

    @property
    def median_text(self) -> str:
        return self.words(self.median)

    @property
    def p90_text(self) -> str:
        return self.words(self.p90)


def time_in_stage(user: Any, subj: Subject, filters: Filters) -> list[StageTime]:
    """Median and 90th percentile of the time records spent in each open stage (see the
    module): in SQL on PostgreSQL, over one streamed column elsewhere."""
    start, end = filters.period.moments()
    per_record = (
        select(
            StageMove.from_stage.label("stage"),
            StageMove.record_id,
            func.sum(StageMove.seconds_in_from).label("secs"),
        )
        .where(
            _moves(subj),
            StageMove.from_stage.is_not(None),
            StageMove.seconds_in_from.is_not(None),
            StageMove.at >= start,
            StageMove.at < end,
            StageMove.record_id.in_(records(user, subj, filters)),
        )
        .group_by(StageMove.from_stage, StageMove.record_id)
        .subquery()
    )
    found: dict[str, tuple[int, float | None, float | None]] = {}
    if db.engine.dialect.name == "postgresql":
        rows = db.session.execute(
            select(
                per_record.c.stage,
                func.count(),
                func.percentile_cont(0.5).within_group(per_record.c.secs),
                func.percentile_cont(0.9).within_group(per_record.c.secs),
            ).group_by(per_record.c.stage)
        ).all()
        found = {k: (int(n), float(m), float(p)) for k, n, m, p in rows}
    else:
        result = db.session.execute(
            select(per_record.c.stage, per_record.c.secs).order_by(
                per_record.c.stage, per_record.c.secs
            ),
            execution_options={"yield_per": 2000},
        )
        current, values = None, []
        for stage, secs in result:
            if stage != current:
                if current is not None:
                    found[current] = (len(values), percentile(values, 0.5), percentile(values, 0.9))
                current, values = stage, []
            values.append(float(secs))
        if current is not None:
            found[current] = (len(values), percentile(values, 0.5), percentile(values, 0.9))
    out = []
    for s in subj.pipeline.active_stages:
        if s.closed:
            continue
        n, median, p90 = found.get(s.key, (0, None, None))
        out.append(StageTime(s.key, stage_name(s), n, median, p90))
    return out


@dataclass(frozen=True)
class Rate:
    key: Any
    label: str
    won: int
    lost: int

    @property
    def rate(self) -> float | None:
        return self.won / (self.won + self.lost) if (self.won + self.lost) else None

    @property
    def percent(self) -> str:
        r = self.rate
        return "—" if r is None else f"{r * 100:.0f} %"


def source_field(user: Any, subj: Subject) -> FieldSpec | None:
    """The source picklist of the entity: the pipeline's ``source_field`` option, else
    the first single-choice field whose key names a source; None when there is none or
    the viewer may not read it (a hidden field is never grouped by)."""
    visible = readable(user, subj.spec)
    wanted = subj.pipeline.options.get("source_field")
    candidates = [subj.spec.field(wanted)] if wanted else list(subj.spec.active_fields)
    for f in candidates:
        if f is None or f.key not in visible:
            continue
        entry = types.get(f.type)
        if not entry.has_choices or entry.multi_valued or entry.managed:
            continue
        if wanted or "source" in f.key:
            return f
    return None


def win_rates(user: Any, subj: Subject, filters: Filters) -> dict[str, list[Rate]]:
    """Win rate by owner (``"owner"``) and by source (``"source"``, when there is a
    readable source picklist)."""
    table = table_of(subj.spec)
    closed = {s.key: s.category for s in subj.pipeline.stages if s.closed}
    if not closed:
        return {"owner": [], "source": []}
    start, end = filters.period.moments()
    entered = (
        select(StageMove.id)
        .where(
            _moves(subj),
            StageMove.record_id == table.c.id,
            StageMove.to_stage == table.c[STAGE_FIELD],
            StageMove.at >= start,
            StageMove.at < end,
        )
        .exists()
    )

    def grouped(column) -> dict[Any, list[int]]:
        query = records(user, subj, filters, [column, table.c[STAGE_FIELD], func.count()])
        query = query.where(table.c[STAGE_FIELD].in_(list(closed)), entered).group_by(
            column, table.c[STAGE_FIELD]
        )
        out: dict[Any, list[int]] = {}
        for key, stage, n in db.session.execute(query):
            pair = out.setdefault(key, [0, 0])
            pair[0 if closed[stage] == "won" else 1] += int(n)
        return out

    by_owner = grouped(table.c.owner_id)
    names = names_of(by_owner)
    owners = [Rate(k, names.get(k, "—"), w, lost) for k, (w, lost) in by_owner.items()]
    owners.sort(key=lambda r: (-(r.rate or 0), r.label))
    sources: list[Rate] = []
    field = source_field(user, subj)
    if field is not None:
        for k, (w, lost) in grouped(table.c[field.key]).items():
            choice = field.choice(k) if k is not None else None
            sources.append(Rate(k, choice.label if choice is not None else "—", w, lost))
        sources.sort(key=lambda r: (-(r.rate or 0), r.label))
    return {"owner": owners, "source": sources, "source_field": field}


@dataclass(frozen=True)
class Stale:
    id: int
    name: str
    stage: str
    owner: str
    since: datetime
    days: int


def stale(
    user: Any, subj: Subject, filters: Filters, days: int, *, now: datetime | None = None
) -> tuple[int, list[Stale]]:
    """How many records of the pipeline sit in an open stage without a move for ``days``
    days, and the longest-waiting ``STALE_LIST`` of them."""
    now = now or utcnow()
    table = table_of(subj.spec)
    open_keys = [s.key for s in subj.pipeline.stages if not s.closed]
    last = (
        select(StageMove.record_id, func.max(StageMove.at).label("last"))
        .where(_moves(subj))
        .group_by(StageMove.record_id)
        .subquery()
    )
    since = func.coalesce(last.c.last, table.c.created_at)
    cutoff = now - timedelta(days=days)
    name_col = subj.spec.name_field if subj.spec.name_field in readable(user, subj.spec) else None
    cols = [table.c.id, table.c[STAGE_FIELD], table.c.owner_id, since.label("since")]
    if name_col:
        cols.append(table.c[name_col])
    base = (
        records(user, subj, filters, cols)
        .outerjoin(last, last.c.record_id == table.c.id)
        .where(table.c[STAGE_FIELD].in_(open_keys), since < cutoff)
    )
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = db.session.execute(base.order_by(since, table.c.id).limit(STALE_LIST)).all()
    owners = names_of(r.owner_id for r in rows)
    out = []
    for r in rows:
        stage = subj.pipeline.stage(r[1], include_archived=True)
        out.append(
            Stale(
                r.id,
                str(r[4]) if name_col and r[4] is not None else f"#{r.id}",
                stage_name(stage) if stage else str(r[1]),
                owners.get(r.owner_id, "—"),
                r.since,
                max(0, (now - r.since).days),
            )
        )
    return int(total), out
