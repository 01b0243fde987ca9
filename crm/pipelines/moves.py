"""Moving a record to another stage from a board: the record service's merge update with
the stage (and, when the stage's gate asked for them, its missing values) in one save.

The board knows the stage it showed the card in (``from_stage``) and the version it read:
a save by someone else in between that left the stage alone merges; one that moved the
card too is a ``RecordConflict`` and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from crm.access import policy
from crm.errors import ValidationFailed
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.pipelines.rules import gate_of, pipelines_for
from crm.pipelines.spec import STAGE_FIELD, StageSpec
from crm.records import service as records


def target_stage(spec: EntitySpec, stage_key: str) -> StageSpec:
    """The stage ``stage_key`` of one of the entity's pipelines (archived ones
    included: the record service refuses those with its message). ``ValidationFailed``
    keyed "stage" when the entity has no such stage."""
    found = pipelines_for(spec)
    stage = found.stage(stage_key) if found is not None and stage_key else None
    if stage is None:
        message = _("There is no stage “%(stage)s”.", stage=str(stage_key)[:41])
        raise ValidationFailed(message, errors={STAGE_FIELD: [message]})
    return stage


def gate_fields(user: Any, spec: EntitySpec, stage: StageSpec, keys) -> list[FieldSpec]:
    """The fields of ``keys`` (missing values of the gate of ``stage``) the user may fill
    in, in the gate's order. ``ValidationFailed`` naming the first they may not edit:
    the move cannot be made by them."""
    editable = {f.key: f for f in policy.visible_fields(user, spec, "edit")}
    out = []
    for key in gate_of(spec, stage):
        if key not in keys:
            continue
        f = editable.get(key)
        if f is None:
            label = spec.field(key).label if spec.field(key) is not None else key
            message = _("This stage needs “%(field)s”, which you cannot fill in.", field=label)
            raise ValidationFailed(message, errors={key: [message]})
        out.append(f)
    return out


def move(
    user: Any,
    spec: EntitySpec,
    record_id: int,
    stage_key: str,
    *,
    version: int,
    from_stage: str | None,
    values: Mapping[str, Any] | None = None,
) -> records.Saved:
    """Move the record to ``stage_key`` as read at ``version`` in ``from_stage``, saving
    ``values`` (raw, only the target stage's gate fields are taken) with it.

    ``NotFound`` unless the user may edit the record; ``GateBlocked`` naming the values
    the stage still needs; ``ValidationFailed`` for a stage outside the record's pipeline
    or archived, or a bad value; ``RecordConflict`` when someone else moved the record
    (or filled in a gate value differently) since it was read. Nothing is written then."""
    stage = target_stage(spec, stage_key)
    gate = set(gate_of(spec, stage))
    raw = {k: v for k, v in (values or {}).items() if k in gate}
    raw[STAGE_FIELD] = stage.key
    base = None
    if from_stage:
        # What the board showed: the stage it was in, and blank gate values (the dialog
        # asks only for missing ones).
        base = {STAGE_FIELD: records.fingerprint(spec, record_id, STAGE_FIELD, from_stage)}
        base.update({k: records.fingerprint(spec, record_id, k, None) for k in raw if k in gate})
    return records.merge_update(user, spec, record_id, base, raw, expected_version=version)
