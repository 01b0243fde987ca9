"""Reading and writing stage history in bulk: a record's path through its pipeline with
the time spent in each stage, its moves told in words for the timeline, and the history
rows of many moves at once (bulk edit).

Time in a stage is the sum of ``seconds_in_from`` of the moves that left it, plus, for the
stage the record is in now, the time since it entered: one grouped query per record page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import format_timedelta
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.pipelines.models import StageMove
from crm.pipelines.rules import pipelines_for, stage_name
from crm.pipelines.spec import PIPELINE_FIELD, STAGE_FIELD, StageSpec
from crm.timeutil import utcnow


@dataclass(frozen=True)
class PathStep:
    """One chevron of the stage path: ``state`` is "done", "current", "ahead" or
    "skipped" (an open stage a lost record never reached); ``seconds`` the time the record
    spent in the stage (None: never in it)."""

    stage: StageSpec
    state: str
    seconds: int | None

    @property
    def name(self) -> str:
        return stage_name(self.stage)

    @property
    def time(self) -> str:
        """The time in the stage in the reader's language ("3 days"), or ""."""
        if self.seconds is None:
            return ""
        return format_timedelta(timedelta(seconds=self.seconds), threshold=0.95)


@dataclass(frozen=True)
class StagePath:
    pipeline_key: str
    pipeline_name: str
    steps: tuple[PathStep, ...]
    current: StageSpec | None


def time_in_stages(
    entity_key: str, record_id: int, current: str | None, *, now: datetime | None = None
) -> dict[str, int]:
    """Seconds the record spent in each stage it has been in (one grouped query): the
    sum of ``seconds_in_from`` of the moves that left a stage, plus the time since the
    last move for ``current``."""
    rows = db.session.execute(
        select(StageMove.from_stage, func.sum(StageMove.seconds_in_from), func.max(StageMove.at))
        .where(StageMove.entity_key == entity_key, StageMove.record_id == record_id)
        .group_by(StageMove.from_stage)
    ).all()
    out: dict[str, int] = {}
    entered = None
    for from_stage, seconds, last in rows:
        if from_stage is not None:
            out[from_stage] = int(seconds or 0)
        if last is not None and (entered is None or last > entered):
            entered = last
    if current is not None and entered is not None:
        since = max(0, int(((now or utcnow()) - entered).total_seconds()))
        out[current] = out.get(current, 0) + since
    return out


def stage_path(spec: EntitySpec, row: Mapping[str, Any]) -> StagePath | None:
    """The path of the record ``row`` through its pipeline (None when ``spec`` has no
    pipelines or the record none): the pipeline's active stages in order, each done,
    current, ahead or skipped, with the time spent in it."""
    from crm.i18n import pick, request_locale

    found = pipelines_for(spec)
    if found is None:
        return None
    pipeline = found.get(row.get(PIPELINE_FIELD), include_archived=True)
    if pipeline is None:
        return None
    current_key = row.get(STAGE_FIELD)
    current = pipeline.stage(current_key, include_archived=True) if current_key else None
    times = time_in_stages(spec.key, row["id"], current_key)
    stages = list(pipeline.active_stages)
    if current is not None and current not in stages:
        stages.append(current)  # an archived stage the record still sits in
    open_stages = [s for s in stages if not s.closed]
    reached = -1
    if current is not None and not current.closed and current in open_stages:
        reached = open_stages.index(current)
    elif current is not None and current.category == "won":
        reached = len(open_stages)
    steps = []
    for s in stages:
        seconds = times.get(s.key)
        if current is not None and s.key == current.key:
            state = "current"
        elif s.closed:
            state = "ahead" if current is None or not current.closed else "skipped"
        elif current is not None and current.lost:
            state = "done" if seconds is not None else "skipped"
        else:
            state = "done" if open_stages.index(s) < reached else "ahead"
        steps.append(PathStep(s, state, seconds))
    name = pick(pipeline.name, pipeline.translations.get("name"), request_locale())
    return StagePath(pipeline.key, name, tuple(steps), current)


def moves_of(entity_key: str, record_id: int, limit: int) -> list[StageMove]:
    """The record's latest ``limit`` moves, newest first."""
    return list(
        db.session.scalars(
            select(StageMove)
            .where(StageMove.entity_key == entity_key, StageMove.record_id == record_id)
            .order_by(StageMove.at.desc(), StageMove.id.desc())
            .limit(limit)
        )
    )


def move_words(spec: EntitySpec, move: Any) -> str:
    """A move told in words, in the reader's language: "Started in New", "Moved from
    Qualified to Proposal", "Lost: Price" (with the lost stage's name when it is not
    simply "Lost")."""
    found = pipelines_for(spec)

    def name(key: str | None) -> str:
        stage = found.stage(key) if found is not None and key else None
        return stage_name(stage) if stage is not None else str(key or "")

    target = found.stage(move.to_stage) if found is not None else None
    if move.from_stage is None:
        return _("Started in %(stage)s", stage=name(move.to_stage))
    if target is not None and target.lost:
        reason = _reason_label(spec, move.reason)
        if reason:
            return _("%(stage)s: %(reason)s", stage=name(move.to_stage), reason=reason)
    return _(
        "Moved from %(from)s to %(to)s",
        **{"from": name(move.from_stage), "to": name(move.to_stage)},
    )


def _reason_label(spec: EntitySpec, reason: str | None) -> str:
    from crm.pipelines.spec import LOST_REASON_FIELD

    if not reason:
        return ""
    f = spec.field(LOST_REASON_FIELD)
    choice = f.choice(reason) if f is not None else None
    return choice.label if choice is not None else reason


def gate_words(spec: EntitySpec, missing: Iterable[str]) -> str:
    """The missing gate fields by their labels ("Amount, Close date")."""
    labels = [spec.field(k).label if spec.field(k) is not None else k for k in missing]
    return _(", ").join(labels)
