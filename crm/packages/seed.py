"""Seed records of packages (issue 15): planned, applied and exported by their "@key".

A package's ``seed`` section names records (reference data, demo records) by entity and
"@key", with values in the seed format (``crm.packages.seed_values``). Applying creates
each through the record service (``crm.records.service``: the one writer, with its checks,
history and stage history), as the applying user, inside the apply's transaction, lookups
first (``seed_values.order``); ``package_seed_records`` remembers which record each
(entity, "@key") became and what the package said (the base of the next merge). So
re-applying creates nothing twice, an updated package is merged per field
(``crm.packages.seed_plan``), and a seed record the company deleted is not made again.

Export writes the seeded records that are still there, by their keys, with their values
now; records no package seeded are never exported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access.models import User
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs as spec_cache
from crm.metadata.spec import EntitySpec
from crm.packages import seed_values
from crm.packages.models import SeedRecord
from crm.packages.plan import Plan
from crm.packages.seed_plan import ADD, DELETED, WRITES, SeedPlan, merge
from crm.packages.seed_values import KEY, canonical, seedable, stored, target, typed
from crm.records import query
from crm.records import service as records

_CHUNK = 1000


def seeded_keys() -> dict[str, set[str]]:
    """The seed "@key"s this installation holds, by entity (what a package's lookups may
    name besides its own seed records)."""
    out: dict[str, set[str]] = {}
    for entity, key in db.session.execute(select(SeedRecord.entity_key, SeedRecord.seed_key)):
        out.setdefault(entity, set()).add(key)
    return out


class _Here:
    """The installation's seed records: which record each (entity, "@key") became, and
    those records as they are now (live ones; the others were deleted here)."""

    def __init__(self) -> None:
        self.compiled = spec_cache.raw()
        self.rows: dict[tuple[str, str], SeedRecord] = {
            (r.entity_key, r.seed_key): r
            for r in db.session.scalars(select(SeedRecord).order_by(SeedRecord.id))
        }
        ids: dict[str, list[int]] = {}
        for (entity, _key), row in self.rows.items():
            ids.setdefault(entity, []).append(row.record_id)
        self.records: dict[tuple[str, int], Mapping[str, Any]] = {}
        for entity, wanted in ids.items():
            spec = self.spec(entity)
            if spec is None:
                continue
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                for row in db.session.execute(query.seeded(spec, chunk)).mappings():
                    if row["deleted_at"] is None:
                        self.records[(entity, row["id"])] = row
        self.key_of: dict[str, dict[int, str]] = {}
        for (entity, key), row in self.rows.items():
            if (entity, row.record_id) in self.records:
                self.key_of.setdefault(entity, {})[row.record_id] = key

    def spec(self, entity: str) -> EntitySpec | None:
        return self.compiled.entity(entity, include_archived=True)

    def deleted(self, entity: str, key: str) -> bool:
        """True when seed record (entity, key) became a record that was deleted here."""
        return (entity, key) in self.rows and self.live(entity, key) is None

    def live(self, entity: str, key: str) -> Mapping[str, Any] | None:
        """The record seed record (entity, key) became, if it is still here."""
        row = self.rows.get((entity, key))
        return None if row is None else self.records.get((entity, row.record_id))

    def values(self, spec: EntitySpec, record: Mapping[str, Any], *, unknown: bool) -> dict:
        """A record's values in the seed format, empties left out; a lookup by its
        target's "@key", or (``unknown``) "#id" for a record no package seeded, which
        export leaves out."""
        out: dict[str, Any] = {}
        for f in seedable(spec):
            value = record.get(f.key)
            goal = target(f)
            if goal is not None and value is not None:
                value = self.key_of.get(goal, {}).get(value) or (f"#{value}" if unknown else None)
            elif goal is None:
                value = stored(f, value)
            if value is not None:
                out[f.key] = value
        return out


def _theirs(here: _Here, fields: Mapping[str, Any], record: Mapping[str, Any]) -> dict:
    """A package's seed record in the seed format, empties left out; a lookup to a seed
    record deleted here is empty (it is not made again)."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        f = fields.get(name)
        if name == KEY or f is None:
            continue
        value = canonical(f, value)
        goal = target(f)
        if goal is not None and value is not None and here.deleted(goal, value):
            value = None
        if value is not None:
            out[name] = value
    return out


def _plan(package: Mapping[str, Any], here: _Here) -> SeedPlan:
    entities = package.get("entities") or {}
    steps = []
    for entity, listed in (package.get("seed") or {}).items():
        spec = here.spec(entity)
        fields = seed_values.entity_fields(entity, entities.get(entity), spec)
        for index, record in enumerate(listed):
            key = record[KEY]
            theirs = _theirs(here, fields, record)
            row = here.rows.get((entity, key))
            live = here.live(entity, key)
            mine = here.values(spec, live, unknown=True) if live is not None else None
            base = dict(row.base or {}) if row is not None else None
            steps.append(
                merge(entity, key, index, theirs, mine, base, row.record_id if row else None)
            )
    return SeedPlan(tuple(steps))


def plan_seed(package: Mapping[str, Any]) -> SeedPlan:
    """What applying ``package`` (loaded and checked) would do to its seed records here.
    Reads only."""
    if not package.get("seed"):
        return SeedPlan()
    return _plan(package, _Here())


def with_seed(p: Plan) -> Plan:
    """``p`` with its seed records planned (``Plan.seed``)."""
    p.seed = plan_seed(p.theirs)
    return p


def _refused(path: str, exc: ValidationFailed | Forbidden | NotFound) -> ValidationFailed:
    errors = {path: [exc.message], **{f"{path}/{k}": v for k, v in exc.errors.items()}}
    return ValidationFailed(_("Nothing was changed."), errors=errors)


def apply_seed(p: Plan, actor_id: int | None) -> None:
    """Create and update the seed records of ``p`` (inside the apply's transaction, after
    the configuration steps), as user ``actor_id``, and remember them. Refuses (nothing
    is changed then: the caller's unit of work rolls back) with ``Conflict`` when the
    records changed since ``p.seed`` was planned, ``ValidationFailed`` keyed by JSON
    pointer when the record service refuses a record or no user applies."""
    if not p.theirs.get("seed"):
        return
    with spec_cache.pinned():  # the configuration steps are done: compile once
        _apply(p, actor_id)


def _apply(p: Plan, actor_id: int | None) -> None:
    seed = p.theirs["seed"]
    here = _Here()
    fresh = _plan(p.theirs, here)
    if p.seed is not None and fresh != p.seed:
        raise Conflict(_("Seed records changed since this plan was made. Plan again."))
    actor = db.session.get(User, actor_id) if actor_id is not None else None
    if fresh.writes() and actor is None:
        raise ValidationFailed(
            _("Nothing was changed."),
            errors={
                "/seed": [_("Seed records are saved by a user: name who applies the package.")]
            },
        )
    steps = {(s.entity, s.index): s for s in fresh.steps}
    ids = {pair: row.record_id for pair, row in here.rows.items() if here.live(*pair) is not None}
    fields_of = {e: {f.key: f for f in here.spec(e).fields} for e in seed if here.spec(e)}
    for entity, index in seed_values.order(seed, fields_of):
        step = steps[(entity, index)]
        if step.action not in WRITES:
            continue
        spec = here.spec(entity)
        wanted = step.values if step.action == ADD else {c.field: c.new for c in step.changes}
        raw: dict[str, Any] = {}
        for name, value in wanted.items():
            f = spec.field(name, include_archived=True)
            goal = target(f)
            if value is None:
                raw[name] = None
            else:
                raw[name] = ids.get((goal, value)) if goal is not None else typed(f, value)
        try:
            if step.action == ADD:
                ids[(entity, step.key)] = records.create(actor, spec, raw)
            else:
                current = records.get(actor, spec, step.record_id, action="edit")
                records.update_record(
                    actor, spec, step.record_id, raw, expected_version=current["version"]
                )
        except (ValidationFailed, Forbidden, NotFound) as exc:
            raise _refused(step.path, exc) from exc
    _remember(p.theirs, fresh, here, ids)


def _remember(package: Mapping[str, Any], plan: SeedPlan, here: _Here, ids: dict) -> None:
    name = str((package.get("package") or {}).get("name") or "")
    for step in plan.steps:
        if step.action == DELETED:
            continue
        base = dict(step.values)
        row = here.rows.get((step.entity, step.key))
        if row is None:
            db.session.add(
                SeedRecord(
                    entity_key=step.entity,
                    seed_key=step.key,
                    record_id=ids[(step.entity, step.key)],
                    package_name=name,
                    base=base,
                )
            )
        elif row.base != base or row.package_name != name:
            row.base, row.package_name = base, name
    db.session.flush()


def exported() -> dict[str, list[dict]]:
    """The seeded records still here, by entity, each ``{"@key": ..., field: value}`` in
    the seed format with its values now (sorted by key; a lookup to a record no package
    seeded is left out). Reads only."""
    here = _Here()
    out: dict[str, list[dict]] = {}
    for entity, key in sorted(here.rows):
        record = here.live(entity, key)
        if record is not None:
            values = here.values(here.spec(entity), record, unknown=False)
            out.setdefault(entity, []).append({KEY: key, **values})
    return out
