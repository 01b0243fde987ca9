"""What every channel passes when a record enters a stage: the record service calls
``prepare`` before it writes (form, inline edit, board, bulk edit, import, API all write
through it) and ``record`` after, in the same transaction.

- A record of an entity with pipelines always has a pipeline and a stage of it: a new
  record starts in the default pipeline's first open stage unless it says otherwise; a
  record switched to another pipeline without a stage starts at that pipeline's first.
- A stage must be an active stage of the record's pipeline (a crafted request naming
  another pipeline's stage, or an archived one, is refused).
- Entering a stage needs its gate: every field it requires has a value, counting the
  values saved with the move; entering a lost stage needs a lost reason too. Otherwise
  ``GateBlocked`` names exactly the missing fields, and nothing is written.
- The probability follows the stage; where the pipeline allows overriding it, a value
  sent with the move (or later) is kept.
- Each move is one ``StageMove`` row: from, to, who, when, the lost reason, and the
  seconds spent in the stage left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.i18n import pick
from crm.metadata import specs as spec_cache
from crm.metadata import types
from crm.metadata.spec import EntitySpec
from crm.pipelines.models import StageMove
from crm.pipelines.spec import (
    LOST_REASON_FIELD,
    PIPELINE_FIELD,
    PROBABILITY_FIELD,
    STAGE_FIELD,
    EntityPipelines,
    StageSpec,
)
from crm.timeutil import utcnow


class GateBlocked(ValidationFailed):
    """A move that needs values first: ``stage`` is the stage asked for, ``missing`` the
    keys of the fields it requires that have none (in the stage's order); ``errors`` holds
    a message for each."""

    def __init__(self, stage: StageSpec, missing: tuple[str, ...], errors: dict[str, list[str]]):
        super().__init__(
            _("Fill in what this stage needs before the record can enter it."), errors=errors
        )
        self.stage = stage
        self.missing = missing


@dataclass(frozen=True)
class Move:
    """A move the record service is about to write (``from_stage`` None: a first stage)."""

    pipeline: str
    from_stage: str | None
    to_stage: str
    reason: str | None = None


def pipelines_for(spec: EntitySpec) -> EntityPipelines | None:
    """The pipelines of ``spec`` when it has a stage field and at least one pipeline."""
    if spec.field(STAGE_FIELD) is None or spec.field(PIPELINE_FIELD) is None:
        return None
    found = spec_cache.current().pipelines.get(spec.key)
    return found if found is not None and found.pipelines else None


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def stage_name(stage: StageSpec) -> str:
    """A stage's name in the reader's language."""
    from crm.i18n import request_locale

    return pick(stage.name, stage.translations.get("name"), request_locale())


def gate_of(spec: EntitySpec, stage: StageSpec) -> tuple[str, ...]:
    """The fields entering ``stage`` requires (its gate; a lost stage adds the lost
    reason), active ones only, in order."""
    keys = list(stage.required_fields)
    if stage.lost and spec.field(LOST_REASON_FIELD) is not None:
        keys.append(LOST_REASON_FIELD)
    return tuple(k for k in dict.fromkeys(keys) if spec.field(k) is not None)


def prepare(
    spec: EntitySpec, before: Mapping[str, Any] | None, values: dict[str, Any]
) -> Move | None:
    """Check (and complete) ``values`` about to be written to a record that is
    ``before`` (None: a new record). May add the pipeline, stage and probability to
    ``values``. Returns the move to record after the write (None: no move).
    ``ValidationFailed`` for a stage outside the pipeline or a probability that must follow
    the stage; ``GateBlocked`` for missing gate values."""
    found = pipelines_for(spec)
    if found is None:
        return None
    old_pipeline = before.get(PIPELINE_FIELD) if before is not None else None
    old_stage = before.get(STAGE_FIELD) if before is not None else None
    pipeline_key = values.get(PIPELINE_FIELD, old_pipeline)
    stage_key = values.get(STAGE_FIELD, old_stage)
    if pipeline_key is None and stage_key is not None:
        owner = found.stage(stage_key)
        pipeline_key = owner.pipeline if owner is not None else None
    if pipeline_key is None:
        default = found.default
        if default is None:
            return None
        pipeline_key = default.key
    pipeline = found.get(pipeline_key)
    if pipeline is None:
        raise ValidationFailed(
            _("Choose one of the pipelines."),
            errors={PIPELINE_FIELD: [_("Choose one of the pipelines.")]},
        )
    if pipeline_key != old_pipeline:
        values[PIPELINE_FIELD] = pipeline_key
        if STAGE_FIELD not in values and (stage_key is None or pipeline.stage(stage_key) is None):
            stage_key = None
    if stage_key is None:
        first = pipeline.first_stage
        if first is None:
            return None
        stage_key = first.key
    if stage_key != old_stage:
        values[STAGE_FIELD] = stage_key
    stage = pipeline.stage(stage_key)
    if stage is None:
        message = _(
            "“%(stage)s” is not a stage of the pipeline “%(pipeline)s”.",
            stage=str(stage_key)[:41],
            pipeline=pick(pipeline.name, pipeline.translations.get("name"), _locale()),
        )
        raise ValidationFailed(message, errors={STAGE_FIELD: [message]})
    probability = spec.field(PROBABILITY_FIELD)
    if stage_key == old_stage:
        if (
            probability is not None
            and PROBABILITY_FIELD in values
            and not pipeline.probability_override
            and not _same_number(values[PROBABILITY_FIELD], stage.probability)
        ):
            message = _(
                "The probability follows the stage (%(value)d %%).", value=stage.probability
            )
            raise ValidationFailed(message, errors={PROBABILITY_FIELD: [message]})
        return None
    merged = {**(before or {}), **values}
    missing = tuple(k for k in gate_of(spec, stage) if _blank(merged.get(k)))
    if missing:
        name = stage_name(stage)
        raise GateBlocked(
            stage,
            missing,
            {k: [_("Required to enter the stage “%(stage)s”.", stage=name)] for k in missing},
        )
    if probability is not None and not (
        pipeline.probability_override and PROBABILITY_FIELD in values
    ):
        values[PROBABILITY_FIELD] = types.get(probability.type).parse(
            probability, str(stage.probability)
        )
    lost_reason = spec.field(LOST_REASON_FIELD)
    if not stage.lost and lost_reason is not None and not _blank(merged.get(LOST_REASON_FIELD)):
        values[LOST_REASON_FIELD] = None  # reopened or won: no longer lost
    reason = merged.get(LOST_REASON_FIELD) if stage.lost else None
    return Move(pipeline_key, old_stage, stage_key, reason)


def _same_number(value: Any, number: int) -> bool:
    try:
        return value is not None and float(value) == float(number)
    except (TypeError, ValueError):
        return False


def _locale() -> str | None:
    from crm.i18n import request_locale

    return request_locale()


def entered_at(entity_key: str, ids: list[int]) -> dict[int, datetime]:
    """When each of the records ``ids`` entered its current stage (its latest move), by
    id: one grouped query per 500 ids."""
    out: dict[int, datetime] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        out.update(
            db.session.execute(
                select(StageMove.record_id, func.max(StageMove.at))
                .where(StageMove.entity_key == entity_key, StageMove.record_id.in_(chunk))
                .group_by(StageMove.record_id)
            ).all()
        )
    return out


def record_moves(spec: EntitySpec, user: Any, moves: Mapping[int, Move | None]) -> None:
    """The stage-history rows of ``moves`` (record id -> move; None: no move), added to
    the current transaction after the records' writes, each with the time the record
    spent in the stage it left (one query for all; first stages have none)."""
    moves = {rid: m for rid, m in moves.items() if m is not None}
    if not moves:
        return
    entered = entered_at(spec.key, [rid for rid, m in moves.items() if m.from_stage is not None])
    now = utcnow()
    db.session.add_all(
        StageMove(
            entity_key=spec.key,
            record_id=rid,
            pipeline=m.pipeline,
            from_stage=m.from_stage,
            to_stage=m.to_stage,
            at=now,
            user_id=getattr(user, "id", None),
            reason=m.reason,
            seconds_in_from=(
                max(0, int((now - entered[rid]).total_seconds())) if rid in entered else None
            ),
        )
        for rid, m in moves.items()
    )


def record(spec: EntitySpec, record_id: int, user: Any, move: Move | None) -> None:
    """``record_moves`` of one record."""
    record_moves(spec, user, {record_id: move})
