"""A plausible stage history for the demo company's records (deals in the B2B starter's
"New business" and "Renewal" pipelines, leads in its qualification pipeline), spread over
the last months: what the record page's stage path, the timeline and the boards show.

The pipelines are the starter's (``schemas/starters/b2b-sales.json``); the history is
written straight into ``stage_moves`` (the demo invents the past, which no service may
do), with ``seconds_in_from`` consistent with the moves' times.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, update

from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.pipelines.models import StageMove
from crm.pipelines.service import pipelines_of
from crm.pipelines.spec import PipelineSpec
from crm.records.models import RecordHistory
from crm.records.query import table_of
from crm.timeutil import utcnow


def path_to(pipeline: PipelineSpec, stage: str, rnd: random.Random) -> list[str]:
    """The stages a record plausibly went through to reach ``stage`` of ``pipeline``: the
    open stages in order up to it; a won stage after all of them; a lost one after some
    of them."""
    stages = pipeline.active_stages
    open_keys = [s.key for s in stages if not s.closed]
    category = next(s.category for s in stages if s.key == stage)
    if category == "open":
        return open_keys[: open_keys.index(stage) + 1]
    if category == "won":
        return [*open_keys, stage]
    return [*open_keys[: rnd.randint(1, len(open_keys))], stage]


def invent_history(
    spec: EntitySpec,
    records: list[tuple[int, str, str, int, str | None]],
    *,
    rnd: random.Random,
    now: datetime | None = None,
    max_days: int = 300,
) -> int:
    """Replace the stage history of ``records`` ((id, pipeline, stage, owner, lost reason)
    each) with a path through the pipeline (the entity's, as configured) that started up
    to ``max_days`` ago, and date the records' creation at its start. Returns the number
    of moves written."""
    now = now or utcnow()
    pipes = pipelines_of(spec.key)
    table = table_of(spec)
    moves: list[dict] = []
    dates: list[dict] = []
    for rid, pipeline, stage, owner, reason in records:
        path = path_to(pipes.get(pipeline), stage, rnd)
        span = timedelta(days=rnd.uniform(3, max_days) if len(path) > 1 else rnd.uniform(0.2, 40))
        start = now - span
        cuts = sorted(rnd.uniform(0.05, 0.97) for _ in path[1:])
        times = [start, *(start + span * c for c in cuts)]
        for n, key in enumerate(path):
            at = times[n].replace(microsecond=0)
            before = times[n - 1].replace(microsecond=0) if n else None
            moves.append(
                {
                    "entity_key": spec.key,
                    "record_id": rid,
                    "pipeline": pipeline,
                    "from_stage": path[n - 1] if n else None,
                    "to_stage": key,
                    "at": at,
                    "user_id": owner,
                    "reason": reason if n == len(path) - 1 and reason else None,
                    "seconds_in_from": int((at - before).total_seconds()) if before else None,
                }
            )
        dates.append({"rid": rid, "t0": times[0].replace(microsecond=0), "t1": times[-1]})
    ids = [r[0] for r in records]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        db.session.execute(
            delete(StageMove).where(
                StageMove.entity_key == spec.key, StageMove.record_id.in_(chunk)
            )
        )
    if moves:
        db.session.execute(insert(StageMove), moves)
    if dates:
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("rid"))
            .values(created_at=bindparam("t0"), updated_at=bindparam("t1")),
            dates,
            execution_options={"synchronize_session": False},
        )
        history = RecordHistory.__table__
        db.session.execute(
            update(history)
            .where(
                history.c.entity_key == spec.key,
                history.c.record_id == bindparam("rid"),
                history.c.action == "create",
            )
            .values(at=bindparam("t0")),
            dates,
            execution_options={"synchronize_session": False},
        )
    db.session.commit()
    return len(moves)
