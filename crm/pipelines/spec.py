"""Frozen specs of pipelines and stages, compiled with the other metadata (one version).

A record of an entity with pipelines keeps its pipeline's key in the ``pipeline`` column
and its stage's key in ``stage`` (stage keys are unique within an entity, so the stage
alone tells the pipeline too; the pipeline column makes a board's query one index range).
Both columns are fields of managed types (``crm.metadata.types.stages``) whose choices are
compiled from these specs: lists, filters, exports, forms and translations of stage
labels work as they do for any picklist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from crm.metadata.spec import EMPTY

CATEGORIES = ("open", "won", "lost")

# The fields a pipeline adds to its entity (keys never change; the labels are the
# administrator's like any other).
PIPELINE_FIELD = "pipeline"
STAGE_FIELD = "stage"
PROBABILITY_FIELD = "probability"
LOST_REASON_FIELD = "lost_reason"
MANAGED_FIELDS = (PIPELINE_FIELD, STAGE_FIELD, PROBABILITY_FIELD, LOST_REASON_FIELD)
# A compiled field option: the value is given by the stage (the probability, when no
# pipeline of the entity lets people type their own), so nobody edits it.
FOLLOWS_STAGE = "follows_stage"


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``required_fields`` are its gate (the fields that must have a value
    before a record may enter it); ``stale_days`` after which a record sitting in it is
    marked stale (None: never)."""

    key: str
    name: str
    pipeline: str
    position: int = 0
    probability: int = 0
    category: str = "open"
    color: str = "gray"
    required_fields: tuple[str, ...] = ()
    stale_days: int | None = None
    archived: bool = False
    translations: MappingProxyType = field(default_factory=lambda: EMPTY)  # "name" -> {..}

    @property
    def closed(self) -> bool:
        return self.category != "open"

    @property
    def lost(self) -> bool:
        return self.category == "lost"


@dataclass(frozen=True)
class PipelineSpec:
    """One pipeline of an entity, with its stages in order (archived ones included)."""

    key: str
    entity_key: str
    name: str
    position: int = 0
    is_default: bool = False
    archived: bool = False
    stages: tuple[StageSpec, ...] = ()
    # amount_field (summed and weighted on boards), card_fields (shown on cards),
    # probability_override (people may type a probability other than the stage's)
    options: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    translations: MappingProxyType = field(default_factory=lambda: EMPTY)

    @property
    def active_stages(self) -> tuple[StageSpec, ...]:
        return tuple(s for s in self.stages if not s.archived)

    def stage(self, key: str, *, include_archived: bool = False) -> StageSpec | None:
        for s in self.stages:
            if s.key == key and (include_archived or not s.archived):
                return s
        return None

    @property
    def first_stage(self) -> StageSpec | None:
        return next((s for s in self.active_stages if not s.closed), None) or next(
            iter(self.active_stages), None
        )

    @property
    def amount_field(self) -> str | None:
        return self.options.get("amount_field") or None

    @property
    def card_fields(self) -> tuple[str, ...]:
        return tuple(self.options.get("card_fields") or ())

    @property
    def probability_override(self) -> bool:
        return bool(self.options.get("probability_override"))


@dataclass(frozen=True)
class EntityPipelines:
    """Every pipeline of one entity (archived ones included), and lookups by key."""

    entity_key: str
    pipelines: tuple[PipelineSpec, ...] = ()

    @property
    def active(self) -> tuple[PipelineSpec, ...]:
        return tuple(p for p in self.pipelines if not p.archived)

    def get(self, key: str | None, *, include_archived: bool = False) -> PipelineSpec | None:
        for p in self.pipelines:
            if p.key == key and (include_archived or not p.archived):
                return p
        return None

    @property
    def default(self) -> PipelineSpec | None:
        active = self.active
        return next((p for p in active if p.is_default), None) or next(iter(active), None)

    def stage(self, key: str | None) -> StageSpec | None:
        """The stage ``key`` in any pipeline of the entity (archived ones included)."""
        for p in self.pipelines:
            found = p.stage(key, include_archived=True) if key else None
            if found is not None:
                return found
        return None
