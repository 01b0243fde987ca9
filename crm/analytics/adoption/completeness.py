"""Data completeness: fill rate per field per entity, records without owner or without
any activity, and the fill rate of the fields each pipeline stage requires (its gate)
among the records at or past that stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, not_, select

from crm.access import policy
from crm.activities.models import Activity
from crm.analytics.adoption.period import readable_entities
from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.pipelines.rules import gate_of, pipelines_for
from crm.pipelines.spec import PIPELINE_FIELD, STAGE_FIELD, PipelineSpec, StageSpec
from crm.records.query import scoped, table_of

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
    for spec in readable_entities(reader):
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


@dataclass
class GateFill:
    """The fields a stage requires (its gate) and how many of the records at or past that
    stage have a value in each."""

    spec: EntitySpec
    pipeline: str
    stage: StageSpec
    records: int
    fill: list[tuple[Any, int]]  # (field spec, records with a value)

    def rate(self, n: int) -> float:
        return n / self.records if self.records else 0.0


def reached(pipeline: PipelineSpec, stage: StageSpec) -> list[str]:
    """The stages whose records are at or past ``stage``: itself, and the later active
    stages that are not lost (a lost record may have left at any stage)."""
    stages = pipeline.active_stages
    at = next((i for i, s in enumerate(stages) if s.key == stage.key), None)
    if at is None:
        return []
    return [stage.key] + [s.key for s in stages[at + 1 :] if not s.lost]


def gate_completeness(reader: Any) -> list[GateFill]:
    """Per pipeline stage with a gate, of the entities the reader may read: among the
    records (in the reader's scope) at or past that stage, how many have a value in each
    gate field the reader may read. One ``COUNT`` statement per gated stage."""
    out = []
    for spec in readable_entities(reader):
        found = pipelines_for(spec)
        if found is None:
            continue
        table = table_of(spec)
        visible = {
            f.key: f
            for f in policy.visible_fields(reader, spec, "read")
            if f.key in table.c and not f.archived
        }
        if STAGE_FIELD not in visible or PIPELINE_FIELD not in visible:
            continue  # counts per stage would tell what the reader may not read
        for p in found.active:
            for stage in p.active_stages:
                fields = [visible[k] for k in gate_of(spec, stage) if k in visible]
                if not fields:
                    continue
                columns = [func.count()] + [func.count(table.c[f.key]) for f in fields]
                row = db.session.execute(
                    scoped(reader, spec, "read", columns=columns).where(
                        table.c[PIPELINE_FIELD] == p.key,
                        table.c[STAGE_FIELD].in_(reached(p, stage)),
                    )
                ).one()
                out.append(
                    GateFill(
                        spec,
                        p.name,
                        stage,
                        int(row[0]),
                        [(f, int(c or 0)) for f, c in zip(fields, row[1:], strict=True)],
                    )
                )
    return out
