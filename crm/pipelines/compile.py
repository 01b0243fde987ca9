"""Pipeline rows -> frozen specs, and the choices they give the managed fields.

Called by ``crm.metadata.specs.compile_all`` for every metadata version: the ``pipeline``
and ``stage`` fields of an entity get their choices (keys, labels, colours, translations,
archived) from its pipelines, so everything that reads picklist choices reads stages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from sqlalchemy import select

from crm.extensions import db
from crm.metadata import types
from crm.metadata.labels import freeze
from crm.metadata.spec import EMPTY, Choice, EntitySpec
from crm.pipelines.models import PipelineRow, StageRow
from crm.pipelines.spec import (
    FOLLOWS_STAGE,
    PIPELINE_FIELD,
    PROBABILITY_FIELD,
    EntityPipelines,
    PipelineSpec,
    StageSpec,
)


def _frozen(raw) -> MappingProxyType:
    return freeze(raw) if isinstance(raw, dict) else EMPTY


def stage_spec(row, pipeline_key: str) -> StageSpec:
    """The frozen spec of one stage row (ORM object or Core row)."""
    return StageSpec(
        key=row.key,
        name=row.name,
        pipeline=pipeline_key,
        position=row.position or 0,
        probability=int(row.probability or 0),
        category=row.category or "open",
        color=row.color or "gray",
        required_fields=tuple(row.required_fields or ()),
        stale_days=row.stale_days,
        archived=row.archived_at is not None,
        translations=_frozen(row.translations),
    )


def pipeline_spec(row, stage_rows) -> PipelineSpec:
    """The frozen spec of one pipeline row and its stages, in position order."""
    stages = sorted((stage_spec(s, row.key) for s in stage_rows), key=lambda s: s.position)
    return PipelineSpec(
        key=row.key,
        entity_key=row.entity_key,
        name=row.name,
        position=row.position or 0,
        is_default=bool(row.is_default),
        archived=row.archived_at is not None,
        stages=tuple(stages),
        options=MappingProxyType(dict(row.options or {})),
        translations=_frozen(row.translations),
    )


def load_all() -> dict[str, EntityPipelines]:
    """Every entity's pipelines, read as plain Core rows (two queries)."""
    pipelines = db.session.execute(
        select(PipelineRow.__table__).order_by(PipelineRow.position, PipelineRow.key)
    ).all()
    stages: dict[int, list] = {}
    for s in db.session.execute(select(StageRow.__table__)).all():
        stages.setdefault(s.pipeline_id, []).append(s)
    by_entity: dict[str, list[PipelineSpec]] = {}
    for p in pipelines:
        by_entity.setdefault(p.entity_key, []).append(pipeline_spec(p, stages.get(p.id, ())))
    return {k: EntityPipelines(k, tuple(v)) for k, v in by_entity.items()}


def _choices(pipelines: EntityPipelines, field_key: str) -> tuple[Choice, ...]:
    """The choices of the managed field ``field_key``: the pipelines themselves for the
    pipeline field, every pipeline's stages (in pipeline order) for the stage field."""
    if field_key == PIPELINE_FIELD:
        return tuple(
            Choice(
                key=p.key,
                label=p.name,
                order=i,
                archived=p.archived,
                labels=p.translations.get("name", EMPTY),
            )
            for i, p in enumerate(pipelines.pipelines)
        )
    out = []
    for p in pipelines.pipelines:
        for s in p.stages:
            out.append(
                Choice(
                    key=s.key,
                    label=s.name,
                    color=s.color,
                    order=len(out),
                    archived=s.archived or p.archived,
                    labels=s.translations.get("name", EMPTY),
                )
            )
    return tuple(out)


def with_choices(
    entities: Mapping[str, EntitySpec], pipelines: Mapping[str, EntityPipelines]
) -> dict[str, EntitySpec]:
    """``entities`` whose managed pipeline and stage fields carry their pipelines'
    choices (entities without pipelines unchanged)."""
    out = dict(entities)
    for key, e in entities.items():
        if not any(types.get(f.type).managed for f in e.fields if f.type in types.REGISTRY):
            continue
        mine = pipelines.get(key, EntityPipelines(key))
        # The probability follows the stage unless a pipeline lets people type their own:
        # then nobody edits it (like an auto-number), whatever their field rights say.
        follows = bool(mine.active) and not any(p.probability_override for p in mine.active)
        fields = []
        for f in e.fields:
            if f.type in types.REGISTRY and types.get(f.type).managed:
                f = replace(f, choices=_choices(mine, f.key))
            elif f.key == PROBABILITY_FIELD and follows:
                f = replace(f, options=MappingProxyType({**f.options, FOLLOWS_STAGE: True}))
            fields.append(f)
        out[key] = replace(e, fields=tuple(fields))
    return out
