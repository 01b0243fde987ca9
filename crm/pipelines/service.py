"""Changing pipelines: validate -> plan -> apply -> bump, like every other metadata.

``save_pipeline`` takes the whole wanted state of one pipeline (its settings and its
stages in order) and runs inside the schema service's change (``crm.schema.service``): one
transaction holds the metadata rows, the managed fields the first pipeline adds to its
entity (pipeline, stage, probability, lost reason: new columns through the same planner),
the records moved out of archived stages with their stage history, the version bump and
the change log. Every problem is reported at once, keyed by where it is
(``key``, ``name``, ``stages.<n>.probability``, ``stages.<key>.move_to``...), and nothing
changes then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, insert, literal, select, update

from crm.errors import NotFound
from crm.extensions import db
from crm.metadata import labels, types
from crm.metadata import specs as spec_cache
from crm.metadata.compile import build_tables
from crm.metadata.keys import MAX_LABEL, clean_label, key_problems, label_problems
from crm.metadata.palette import PALETTE
from crm.pipelines.models import PipelineRow, StageMove, StageRow
from crm.pipelines.spec import (
    CATEGORIES,
    LOST_REASON_FIELD,
    PIPELINE_FIELD,
    PROBABILITY_FIELD,
    STAGE_FIELD,
    EntityPipelines,
    PipelineSpec,
)
from crm.records.models import RecordHistory
from crm.schema import service as schema
from crm.timeutil import utcnow

MAX_STAGES = 40
MAX_PIPELINES = 20
MAX_CARD_FIELDS = 6
MAX_STALE_DAYS = 3650
NAME_LIMITS = {"name": MAX_LABEL}

# The fields the first pipeline of an entity adds, with their labels in the three
# languages (administrators may relabel them like any field).
_T = {
    PIPELINE_FIELD: ("Pipeline", {"zh_Hans": "流程", "es": "Embudo"}),
    STAGE_FIELD: ("Stage", {"zh_Hans": "阶段", "es": "Etapa"}),
    PROBABILITY_FIELD: ("Probability", {"zh_Hans": "赢率", "es": "Probabilidad"}),
    LOST_REASON_FIELD: ("Lost reason", {"zh_Hans": "输单原因", "es": "Motivo de pérdida"}),
}
LOST_REASONS = (
    ("price", "Price", "价格", "Precio"),
    ("competitor", "Chose a competitor", "选择了竞争对手", "Eligió a la competencia"),
    ("no_budget", "No budget", "没有预算", "Sin presupuesto"),
    ("no_decision", "No decision", "未做决定", "Sin decisión"),
    ("timing", "Timing", "时机不对", "Momento inadecuado"),
    ("other", "Other", "其他", "Otro"),
)
CATEGORY_WORDS = {"open": _l("In progress"), "won": _l("Won"), "lost": _l("Lost")}


@dataclass
class StageInput:
    """One stage as the editor (or a package) sends it."""

    key: str
    name: str
    probability: Any = 0
    category: str = "open"
    color: str = "gray"
    required_fields: list[str] = field(default_factory=list)
    stale_days: Any = None
    translations: Any = None


def pipelines_of(entity_key: str) -> EntityPipelines:
    """The pipelines of an entity as compiled for this request (none: an empty set)."""
    return spec_cache.current().pipelines.get(entity_key) or EntityPipelines(entity_key)


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def _public(p: PipelineRow) -> dict:
    return {
        "key": p.key,
        "name": p.name,
        "translations": p.translations or {},
        "is_default": bool(p.is_default),
        "options": p.options or {},
        "archived": p.archived_at is not None,
        "stages": [
            {
                "key": s.key,
                "name": s.name,
                "translations": s.translations or {},
                "probability": s.probability,
                "category": s.category,
                "color": s.color,
                "required_fields": list(s.required_fields or ()),
                "stale_days": s.stale_days,
                "archived": s.archived_at is not None,
            }
            for s in sorted(p.stages, key=lambda s: s.position)
        ],
    }


class _Checker:
    """Collects the problems of one wanted pipeline, keyed by where they are."""

    def __init__(self, work: schema.SchemaChange) -> None:
        self.work = work

    def err(self, where: str, message: str) -> None:
        self.work.err(where, message)

    def errs(self, where: str, messages: list[str]) -> bool:
        return self.work.errs(where, messages)


def _ensure_fields(work: schema.SchemaChange, entity_key: str) -> None:
    """Add the managed fields the entity lacks; refuse a field of the same key that is
    of another kind (keys never change, so it cannot be taken over silently)."""
    e = work.wanted[entity_key]
    wanted_types = {
        PIPELINE_FIELD: ("pipeline",),
        STAGE_FIELD: ("stage",),
        PROBABILITY_FIELD: ("percent", "integer", "decimal"),
        LOST_REASON_FIELD: ("picklist",),
    }
    for key, allowed in wanted_types.items():
        existing = e.field(key, include_archived=True)
        label, translated = _T[key]
        if existing is not None:
            if existing.type not in allowed:
                work.err(
                    "key",
                    _(
                        "The entity already has a field “%(field)s” of another type; a "
                        "pipeline needs that key for its %(what)s.",
                        field=key,
                        what=types.get(allowed[0]).label if allowed[0] in types.REGISTRY else key,
                    ),
                )
            elif existing.archived:
                work.restore_field(entity_key, key)
            continue
        kwargs: dict[str, Any] = {"translations": {"label": translated}}
        if key == LOST_REASON_FIELD:
            kwargs["choices"] = [
                {"key": k, "label": en, "labels": {"zh_Hans": zh, "es": es}}
                for k, en, zh, es in LOST_REASONS
            ]
        if key == PROBABILITY_FIELD:
            kwargs["options"] = {"decimal_places": 0}
        work.add_field(entity_key, key, wanted_types[key][0], label, **kwargs)


def _check_stages(
    c: _Checker,
    entity: Any,
    stages: list[StageInput],
    other_keys: set[str],
) -> list[dict]:
    """Cleaned stages (dicts ready for rows), problems reported through ``c``."""
    out: list[dict] = []
    seen: set[str] = set()
    if not stages:
        c.err("stages", _("A pipeline needs at least one stage."))
    if len(stages) > MAX_STAGES:
        c.err("stages", _("A pipeline can have at most %(max)d stages.", max=MAX_STAGES))
    gate_ok = {
        f.key
        for f in entity.active_fields
        if f.key not in (PIPELINE_FIELD, STAGE_FIELD) and not types.get(f.type).assigned
    }
    for n, s in enumerate(stages):
        where = f"stages.{n}"
        key = s.key if isinstance(s.key, str) else ""
        bad = c.errs(f"{where}.key", key_problems(key, what="key"))
        if not bad and key in seen:
            bad = c.errs(f"{where}.key", [_("Two stages have the key “%(key)s”.", key=key)])
        if not bad and key in other_keys:
            bad = c.errs(
                f"{where}.key",
                [_("Another pipeline of this entity has a stage “%(key)s”.", key=key)],
            )
        seen.add(key)
        name = s.name if isinstance(s.name, str) else ""
        bad |= c.errs(f"{where}.name", label_problems(name))
        translated, bad_tr = labels.check_parts(s.translations, NAME_LIMITS)
        for messages in bad_tr.values():
            bad |= c.errs(f"{where}.name", messages)
        probability = _int(s.probability if s.probability not in (None, "") else 0, 0, 100)
        if probability is None:
            bad |= c.errs(
                f"{where}.probability", [_("The probability is a whole number from 0 to 100.")]
            )
        if s.category not in CATEGORIES:
            bad |= c.errs(f"{where}.category", [_("Choose open, won or lost.")])
        color = s.color or "gray"
        if color not in PALETTE:
            bad |= c.errs(f"{where}.color", [_("Choose a colour from the palette.")])
        stale = None
        if s.stale_days not in (None, ""):
            stale = _int(s.stale_days, 1, MAX_STALE_DAYS)
            if stale is None:
                bad |= c.errs(
                    f"{where}.stale_days",
                    [_("Stale after: a number of days from 1 to %(max)d.", max=MAX_STALE_DAYS)],
                )
        gate = s.required_fields or []
        if not isinstance(gate, list | tuple) or not all(isinstance(g, str) for g in gate):
            bad |= c.errs(f"{where}.required_fields", [_("Choose fields of this entity.")])
            gate = []
        for g in gate:
            if g not in gate_ok:
                bad |= c.errs(
                    f"{where}.required_fields",
                    [_("“%(field)s” is not a field a stage can require.", field=g[:41])],
                )
        if not bad:
            out.append(
                {
                    "key": key,
                    "name": clean_label(name),
                    "translations": translated,
                    "probability": probability,
                    "category": s.category,
                    "color": color,
                    "required_fields": list(dict.fromkeys(gate)),
                    "stale_days": stale,
                }
            )
    if stages and not any(s.category == "open" for s in stages):
        c.err("stages", _("A pipeline needs at least one open stage."))
    return out


def _check_options(c: _Checker, entity: Any, options: Mapping[str, Any]) -> dict:
    out: dict[str, Any] = {}
    amount = options.get("amount_field") or None
    if amount is not None:
        f = entity.field(amount) if isinstance(amount, str) else None
        if f is None or not types.get(f.type).numeric or f.key == PROBABILITY_FIELD:
            c.err("amount_field", _("Choose a number or currency field of this entity."))
        else:
            out["amount_field"] = amount
    close = options.get("close_field") or None
    if close is not None:
        f = entity.field(close) if isinstance(close, str) else None
        if f is None or types.get(f.type).storage != "date":
            c.err("close_field", _("Choose a date field of this entity."))
        else:
            out["close_field"] = close
    cards = options.get("card_fields") or []
    if not isinstance(cards, list | tuple):
        cards = []
    if len(cards) > MAX_CARD_FIELDS:
        c.err("card_fields", _("A card shows at most %(max)d fields.", max=MAX_CARD_FIELDS))
    kept = []
    for k in cards:
        if not isinstance(k, str) or entity.field(k) is None:
            c.err("card_fields", _("“%(field)s” is not a field of this entity.", field=str(k)[:41]))
        else:
            kept.append(k)
    if kept:
        out["card_fields"] = list(dict.fromkeys(kept))
    if options.get("probability_override"):
        out["probability_override"] = True
    return out


def _move_records(
    work: schema.SchemaChange,
    entity_key: str,
    pipeline_key: str,
    moves: Mapping[str, str],
    actor_id: int | None,
) -> None:
    """Move every live record of the archived stages to their chosen stages: one UPDATE
    per stage, with a stage-history row and a record-history entry per record (written
    by INSERT ... SELECT: no record is read into Python)."""
    spec = work.current.get(entity_key)
    if spec is None or not moves:
        return
    _metadata, tables = build_tables([spec])
    table = tables[entity_key]
    now = utcnow()
    for old, new in moves.items():
        live = (table.c[STAGE_FIELD] == old) & table.c.deleted_at.is_(None)
        db.session.execute(
            insert(StageMove).from_select(
                ["entity_key", "record_id", "pipeline", "from_stage", "to_stage", "at", "user_id"],
                select(
                    literal(entity_key),
                    table.c.id,
                    literal(pipeline_key),
                    literal(old),
                    literal(new),
                    literal(now),
                    literal(actor_id),
                ).where(live),
            )
        )
        db.session.execute(
            insert(RecordHistory).from_select(
                ["entity_key", "record_id", "at", "user_id", "action", "changes", "version"],
                select(
                    literal(entity_key),
                    table.c.id,
                    literal(now),
                    literal(actor_id),
                    literal("update"),
                    literal({STAGE_FIELD: [old, new]}, RecordHistory.__table__.c.changes.type),
                    table.c.version + 1,
                ).where(live),
            )
        )
        db.session.execute(
            update(table)
            .where(live)
            .values(
                {
                    STAGE_FIELD: new,
                    "version": table.c.version + 1,
                    "updated_at": now,
                    "updated_by": actor_id,
                }
            )
        )


def stage_counts(entity_key: str, stage_keys: list[str]) -> dict[str, int]:
    """How many live records sit in each of ``stage_keys`` (all records, not scoped: an
    administrator archiving a stage must move every record out of it)."""
    compiled = spec_cache.raw()
    spec = compiled.entity(entity_key)
    if spec is None or spec.field(STAGE_FIELD) is None or not stage_keys:
        return {}
    table = compiled.table(entity_key)
    col = table.c[STAGE_FIELD]
    rows = db.session.execute(
        select(col, func.count())
        .where(col.in_(stage_keys), table.c.deleted_at.is_(None))
        .group_by(col)
    ).all()
    return {k: int(n) for k, n in rows}


def save_pipeline(
    entity_key: str,
    key: str,
    name: str,
    stages: list[StageInput],
    *,
    translations: Any = None,
    is_default: bool = False,
    options: Mapping[str, Any] | None = None,
    move_to: Mapping[str, str] | None = None,
    actor_id: int | None = None,
) -> PipelineSpec:
    """Create or change the pipeline ``key`` of ``entity_key`` to exactly this state.

    Stages are taken in the order given; a stored stage missing from ``stages`` is
    archived, and when live records sit in it ``move_to[stage_key]`` must name an active
    stage of this pipeline to move them to (in the same transaction, with history rows).
    ``ValidationFailed`` (every problem at once, nothing changed), ``NotFound`` for an
    unknown entity."""
    move_to = dict(move_to or {})
    with schema.change(actor_id) as work:
        work.managing = True
        entity = work.wanted.get(entity_key)
        if entity is None or entity.archived:
            raise NotFound(_("There is no such kind of record."))
        c = _Checker(work)
        rows = db.session.scalars(
            select(PipelineRow).where(PipelineRow.entity_key == entity_key)
        ).all()
        row = next((r for r in rows if r.key == key), None)
        if row is None:
            if c.errs("key", key_problems(key if isinstance(key, str) else "", what="key")):
                return _never()
            if len(rows) >= MAX_PIPELINES:
                c.err("key", _("An entity can have at most %(max)d pipelines.", max=MAX_PIPELINES))
        name = name if isinstance(name, str) else ""
        c.errs("name", label_problems(name))
        translated, bad_tr = labels.check_parts(translations, NAME_LIMITS)
        for messages in bad_tr.values():
            c.errs("name", messages)
        other_keys = {s.key for r in rows if r is not row for s in r.stages}
        cleaned = _check_stages(c, entity, stages, other_keys)
        opts = _check_options(c, entity, options or {})
        kept = {s["key"] for s in cleaned}
        leaving = [s for s in (row.stages if row else []) if s.key not in kept]
        counts = stage_counts(entity_key, [s.key for s in leaving if s.archived_at is None])
        moves: dict[str, str] = {}
        active_targets = {s["key"] for s in cleaned}
        for s in leaving:
            if counts.get(s.key):
                target = move_to.get(s.key)
                if target not in active_targets:
                    c.err(
                        f"stages.{s.key}.move_to",
                        ngettext(
                            "“%(stage)s” holds %(num)d record: choose the stage to move it to.",
                            "“%(stage)s” holds %(num)d records: choose the stage to move them to.",
                            counts[s.key],
                            stage=s.name,
                        ),
                    )
                else:
                    moves[s.key] = target
        if work.errors:
            return _never()
        _ensure_fields(work, entity_key)
        before = _public(row) if row is not None else None
        if row is None:
            row = PipelineRow(
                entity_key=entity_key,
                key=key,
                position=max((r.position for r in rows), default=0) + 10,
            )
            db.session.add(row)
        row.name = clean_label(name)
        row.translations = translated
        row.options = opts
        row.archived_at = None
        if is_default or not any(r.is_default for r in rows if r is not row):
            for r in rows:
                r.is_default = False
            row.is_default = True
        by_key = {s.key: s for s in row.stages}
        for position, data in enumerate(cleaned, start=1):
            srow = by_key.get(data["key"])
            if srow is None:
                srow = StageRow(entity_key=entity_key, key=data["key"])
                row.stages.append(srow)
            for attr in (
                "name", "translations", "probability", "category", "color",
                "required_fields", "stale_days",
            ):  # fmt: skip
                setattr(srow, attr, data[attr])
            srow.position = position * 10
            srow.archived_at = None
        now = utcnow()
        for s in leaving:
            if s.archived_at is None:
                s.archived_at = now
        db.session.flush()
        _move_records(work, entity_key, key, moves, actor_id)
        after = _public(row)
        if before != after:
            work.log(entity_key, None, "save_pipeline", before, after)
    return spec_cache.raw().pipelines[entity_key].get(key)


def archive_pipeline(entity_key: str, key: str, *, actor_id: int | None = None) -> None:
    """Archive a pipeline that no live record follows (its stages leave every picker;
    history keeps their names). ``ValidationFailed`` while records follow it."""
    with schema.change(actor_id) as work:
        work.managing = True
        row = db.session.scalars(
            select(PipelineRow).where(PipelineRow.entity_key == entity_key, PipelineRow.key == key)
        ).first()
        if row is None:
            raise NotFound(_("There is no such pipeline."))
        counts = stage_counts(entity_key, [s.key for s in row.stages])
        held = sum(counts.values())
        if held:
            work.err(
                "key",
                ngettext(
                    "%(num)d record follows this pipeline: move it to another one first.",
                    "%(num)d records follow this pipeline: move them to another one first.",
                    held,
                ),
            )
            return
        if row.archived_at is None:
            before = _public(row)
            row.archived_at = utcnow()
            row.is_default = False
            db.session.flush()
            work.log(entity_key, None, "archive_pipeline", before, None)


def _never() -> Any:
    """Returned from inside the change when problems were found: leaving the block raises
    ``ValidationFailed``, so this value is never seen."""
    return None
