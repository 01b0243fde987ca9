"""Automation rules as the runtime reads them: frozen ``RuleSpec``s compiled from the rule
rows, cached per metadata version with the other specs (``crm.metadata.specs``).

Rules are metadata: saving one bumps the metadata version, so every worker compiles the
new rules at its next read (one dict lookup until then). The JSON shapes are documented
in ``crm.automation.models``; a rule whose trigger cannot be read compiles with its
``problem`` said, and never runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from crm.automation.models import AutomationRule
from crm.extensions import db
from crm.metadata import list_views, specs
from crm.metadata.list_views import FilterSpec

# Triggers caused by a change of a record (through the outbox) and by time (the schedule).
CREATED, UPDATED, CHANGED = "created", "updated", "changed"
STAGE_ENTERED, STAGE_LEFT = "stage_entered", "stage_left"
DATE, HELD = "date", "held"
EVENT_TRIGGERS = frozenset({CREATED, UPDATED, CHANGED, STAGE_ENTERED, STAGE_LEFT})
SCHEDULED_TRIGGERS = frozenset({DATE, HELD})
NO_ACTIVITY, IN_STAGE = "no_activity", "in_stage"

# History actions that are a change of a live record (what "updated" means).
UPDATE_ACTIONS = frozenset({"update", "assign"})
_CACHE_KEY = ("automation", "rules")


@dataclass(frozen=True)
class Trigger:
    """A rule's trigger, read from its JSON (see ``crm.automation.models``)."""

    type: str
    field: str | None = None
    to: Any = None
    has_to: bool = False
    stage: str | None = None
    offset_days: int = 0
    yearly: bool = False
    what: str | None = None
    days: int = 0

    def matches(self, action: str, changes: Mapping[str, Any] | None) -> bool:
        """Whether a change (a history ``action`` with ``changes`` as ``{key: [before,
        after]}``) is one this trigger fires on. Pure and cheap: it runs on every save."""
        changes = changes or {}
        if self.type == CREATED:
            return action == "create"
        if action not in UPDATE_ACTIONS and action != "create":
            return False
        if self.type == UPDATED:
            return action in UPDATE_ACTIONS
        pair = changes.get(self.field or "")
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            return False
        before, after = pair
        if self.type == CHANGED:
            if action == "create":
                return False
            return not self.has_to or _same(after, self.to)
        if self.type == STAGE_ENTERED:
            return _same(after, self.stage) and not _same(before, self.stage)
        if self.type == STAGE_LEFT:
            return _same(before, self.stage) and not _same(after, self.stage)
        return False


def _same(value: Any, wanted: Any) -> bool:
    """A stored value (as the history keeps it: JSON) equals a rule's value (as typed)."""
    if value is None or wanted is None:
        return value is None and wanted is None
    if isinstance(value, bool) or isinstance(wanted, bool):
        truthy = ("true", "1", "yes")
        return (str(value).lower() in truthy) == (str(wanted).lower() in truthy)
    return str(value) == str(wanted)


@dataclass(frozen=True)
class RuleSpec:
    """One enabled or disabled rule, compiled. ``actions`` are JSON text decoded per run
    (a run may not change the cached rule); ``problem`` says why it cannot run."""

    id: int
    key: str
    entity_key: str
    name: str
    enabled: bool
    position: int
    owner_id: int | None
    trigger: Trigger
    conditions: tuple[FilterSpec, ...]
    actions_json: str
    problem: str | None = None

    @property
    def scheduled(self) -> bool:
        return self.trigger.type in SCHEDULED_TRIGGERS

    @property
    def runnable(self) -> bool:
        return self.enabled and self.problem is None and self.owner_id is not None

    def actions(self) -> list[dict[str, Any]]:
        """A fresh copy of the rule's actions."""
        return json.loads(self.actions_json)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def trigger_of(raw: Any) -> Trigger:
    """The ``Trigger`` of a rule's JSON; ``ValueError`` when it cannot be read."""
    if not isinstance(raw, Mapping) or raw.get("type") not in EVENT_TRIGGERS | SCHEDULED_TRIGGERS:
        raise ValueError("unknown trigger")
    kind = raw["type"]
    if kind in (CHANGED, STAGE_ENTERED, STAGE_LEFT, DATE) and not raw.get("field"):
        raise ValueError("trigger without a field")
    if kind == HELD and raw.get("what") not in (NO_ACTIVITY, IN_STAGE):
        raise ValueError("unknown held condition")
    return Trigger(
        type=kind,
        field=raw.get("field") or ("stage" if raw.get("what") == IN_STAGE else None),
        to=raw.get("to"),
        has_to="to" in raw and raw.get("to") not in (None, ""),
        stage=raw.get("stage"),
        offset_days=_int(raw.get("offset_days")),
        yearly=bool(raw.get("yearly")),
        what=raw.get("what"),
        days=max(0, _int(raw.get("days"))),
    )


def compile_rule(row: Any, entities: Mapping[str, Any]) -> RuleSpec:
    """The ``RuleSpec`` of one rule row (ORM object or Core row)."""
    problem = None
    try:
        trigger = trigger_of(row.trigger)
    except ValueError as exc:
        trigger, problem = Trigger(type="invalid"), str(exc)
    entity = entities.get(row.entity_key)
    conditions: list[FilterSpec] = []
    if entity is None:
        problem = problem or "unknown entity"
    else:
        for raw in row.conditions or ():
            found, errors = list_views.check_filter(entity, raw)
            if found is None:
                problem = problem or "; ".join(errors)
            else:
                conditions.append(found)
    actions = row.actions if isinstance(row.actions, list) else []
    return RuleSpec(
        id=row.id,
        key=row.key,
        entity_key=row.entity_key,
        name=row.name,
        enabled=bool(row.enabled),
        position=row.position or 0,
        owner_id=row.owner_id,
        trigger=trigger,
        conditions=tuple(conditions),
        actions_json=json.dumps(actions),
        problem=problem,
    )


def all_rules() -> tuple[RuleSpec, ...]:
    """Every rule, in run order (position, then id), compiled once per metadata version."""
    compiled = specs.raw()
    found = compiled.derived.get(_CACHE_KEY)
    if found is None:
        rows = db.session.execute(
            select(AutomationRule.__table__).order_by(AutomationRule.position, AutomationRule.id)
        ).all()
        found = tuple(compile_rule(r, compiled.entities) for r in rows)
        compiled.derived[_CACHE_KEY] = found
    return found


def rules_for(entity_key: str) -> tuple[RuleSpec, ...]:
    """The runnable rules of an entity caused by changes (created, updated, changed,
    stage entered or left), in run order."""
    compiled = specs.raw()
    key = (*_CACHE_KEY, "events", entity_key)
    found = compiled.derived.get(key)
    if found is None:
        found = tuple(
            r for r in all_rules() if r.entity_key == entity_key and r.runnable and not r.scheduled
        )
        compiled.derived[key] = found
    return found


def scheduled_rules() -> tuple[RuleSpec, ...]:
    """The runnable "date" and "held" rules of every entity, in run order."""
    return tuple(r for r in all_rules() if r.runnable and r.scheduled)


def rule(rule_id: int) -> RuleSpec | None:
    """The compiled rule ``rule_id`` (enabled or not), or None."""
    return next((r for r in all_rules() if r.id == rule_id), None)
