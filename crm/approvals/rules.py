"""Approval rules: checking them, the administrators' changes to them, and which rule wants
which change of a record.

A rule's trigger is read through the compiled specs: "entering a stage" is the pipeline's
stage field; "above a threshold" accepts only fields whose type the registry calls
``numeric`` (never a list of type names here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access import policy
from crm.access.models import Role, User
from crm.approvals.models import ApprovalRule
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.i18n import pick, request_locale
from crm.metadata import labels, list_views, specs, types
from crm.metadata.keys import clean_label, key_problems
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.metadata.versioning import bump_version, log_change
from crm.pipelines.rules import pipelines_for, stage_name
from crm.pipelines.spec import STAGE_FIELD
from crm.uow import unit_of_work

STAGE, ABOVE = "stage", "above"
MANAGER = "manager"
MAX_STEPS = 5
MAX_CONDITIONS = 10
MAX_ID = 2**31 - 1


def rule_name(rule: Any) -> str:
    """A rule's (or a request's rule) name in the reader's language."""
    translations = (getattr(rule, "translations", None) or {}).get("name")
    return pick(getattr(rule, "name", None) or getattr(rule, "rule_name", ""), translations,
                request_locale())  # fmt: skip


def numeric_fields(spec: EntitySpec) -> list[FieldSpec]:
    """The active fields of ``spec`` a threshold can apply to (numbers, currencies ...)."""
    return [f for f in spec.active_fields if types.get(f.type).numeric]


def held_field(rule: RuleLike) -> str:
    """The field whose change the rule holds."""
    return STAGE_FIELD if rule.trigger.get("type") == STAGE else str(rule.trigger.get("field"))


def _small_id(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_ID and not isinstance(value, bool) else None


def check_step(step: Any) -> tuple[Any, str | None]:
    """One approver step as stored, or the problem with it."""
    if step == MANAGER:
        return MANAGER, None
    if isinstance(step, Mapping) and len(step) == 1:
        ((kind, raw),) = step.items()
        number = _small_id(raw)
        if kind == "role" and number and db.session.get(Role, number) is not None:
            return {"role": number}, None
        if kind == "user" and number:
            user = db.session.get(User, number)
            if user is not None and user.is_active:
                return {"user": number}, None
            return None, _("Choose an active user as approver.")
        if kind == "role":
            return None, _("Choose an existing role as approver.")
    return None, _("Choose who approves: the owner's manager, a role or a person.")


def approver_choices() -> list[tuple[str, str]]:
    """``(form value, words)`` of every approver a step may name: the owner's manager,
    each role, each active user ("manager", "role:3", "user:7")."""
    from crm.access import directory

    out = [("manager", _("The record owner's department manager"))]
    out += [
        (f"role:{r.id}", _("Anyone with the role %(role)s", role=r.name))
        for r in db.session.scalars(select(Role).order_by(Role.name))
    ]
    out += [(f"user:{i}", name) for i, name in directory.user_names().items()]
    return out


def _number(f: FieldSpec, raw: Any) -> Decimal | None:
    try:
        value = types.get(f.type).parse(f, raw)
        return None if value is None else Decimal(str(value))
    except (ValueError, TypeError, InvalidOperation):
        return None


@dataclass
class RuleInput:
    """What an administrator submits for a rule (the key only when creating)."""

    entity_key: str
    name: str
    trigger: Mapping[str, Any]
    steps: list
    conditions: list
    key: str = ""
    translations: Mapping[str, Any] | None = None
    enabled: bool = True


def check(data: RuleInput, *, creating: bool) -> tuple[dict, dict[str, list[str]]]:
    """The rule's cleaned columns, and every problem by form key (``entity``, ``key``,
    ``name``, ``trigger``, ``steps``, ``conditions``, ``translations``)."""
    errors: dict[str, list[str]] = {}
    spec = specs.current().entity(str(data.entity_key or ""))
    if spec is None or spec.archived:
        return {}, {"entity": [_("Choose an entity.")]}
    clean: dict[str, Any] = {"entity_key": spec.key, "enabled": bool(data.enabled)}
    if creating:
        problems = key_problems(data.key)
        if not problems and db.session.scalar(
            select(ApprovalRule.id).where(ApprovalRule.key == data.key)
        ):
            problems = [_("Another approval rule has this key.")]
        if problems:
            errors["key"] = problems
        clean["key"] = data.key
    name = clean_label(str(data.name or ""))
    if not name or len(name) > 200:
        errors["name"] = [_("Give the rule a name (at most 200 characters).")]
    clean["name"] = name
    translated, bad = labels.check_parts(data.translations, {"name": 200})
    if bad:
        errors["translations"] = [m for ms in bad.values() for m in ms]
    clean["translations"] = translated
    trigger, problem = _check_trigger(spec, data.trigger)
    if problem:
        errors["trigger"] = [problem]
    clean["trigger"] = trigger
    steps = []
    for step in list(data.steps or [])[: MAX_STEPS + 1]:
        cleaned, problem = check_step(step)
        if problem:
            errors.setdefault("steps", []).append(problem)
        steps.append(cleaned)
    if not steps:
        errors["steps"] = [_("Add at least one approval step.")]
    elif len(steps) > MAX_STEPS:
        errors["steps"] = [_("Use at most %(num)d steps.", num=MAX_STEPS)]
    clean["steps"] = steps
    conditions = []
    for raw in list(data.conditions or [])[: MAX_CONDITIONS + 1]:
        found, problems = list_views.check_filter(spec, raw)
        if problems:
            errors.setdefault("conditions", []).extend(problems)
        else:
            conditions.append(found.to_data())
    if len(conditions) > MAX_CONDITIONS:
        errors["conditions"] = [_("Use at most %(num)d conditions.", num=MAX_CONDITIONS)]
    clean["conditions"] = conditions
    return clean, errors


def _check_trigger(spec: EntitySpec, raw: Any) -> tuple[dict, str | None]:
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind == STAGE:
        found = pipelines_for(spec)
        stage = found.stage(str(raw.get("stage") or "")) if found is not None else None
        if stage is None:
            return {}, _("Choose a stage of the entity's pipelines.")
        return {"type": STAGE, "stage": stage.key}, None
    if kind == ABOVE:
        f = {x.key: x for x in numeric_fields(spec)}.get(str(raw.get("field") or ""))
        if f is None:
            return {}, _("Choose a number or amount field.")
        threshold = _number(f, raw.get("threshold"))
        if threshold is None:
            return {}, _("Enter the threshold as a number, such as 10000.")
        return {"type": ABOVE, "field": f.key, "threshold": str(threshold)}, None
    return {}, _("Choose what the rule holds: entering a stage, or a value above a threshold.")


def _require(actor: Any) -> None:
    policy.require(actor, policy.CONFIGURE)


def all_rules(actor: Any) -> list[ApprovalRule]:
    """Every approval rule, by entity and name (administrators)."""
    _require(actor)
    query = select(ApprovalRule).order_by(ApprovalRule.entity_key, ApprovalRule.name)
    return list(db.session.scalars(query))


def get_rule(actor: Any, rule_id: int) -> ApprovalRule:
    """One rule; ``NotFound`` when there is no such rule."""
    _require(actor)
    rule = db.session.get(ApprovalRule, rule_id) if 1 <= rule_id <= MAX_ID else None
    if rule is None:
        raise NotFound(_("There is no such approval rule."))
    return rule


def snapshot(rule: ApprovalRule) -> dict[str, Any]:
    """A rule as the change log keeps it (JSON)."""
    return {
        "key": rule.key, "name": rule.name, "translations": dict(rule.translations or {}),
        "enabled": bool(rule.enabled), "trigger": rule.trigger,
        "conditions": list(rule.conditions or []), "steps": list(rule.steps or []),
    }  # fmt: skip


def _logged(actor: Any, rule: ApprovalRule, action: str, before: Any, after: Any) -> None:
    """A rule change is a configuration change: the metadata version moves and the change
    log says who changed what, as for every other rule."""
    log_change(
        version=bump_version(), actor_id=getattr(actor, "id", None),
        entity_key=rule.entity_key, action=action, before=before, after=after,
    )  # fmt: skip


def save(actor: Any, data: RuleInput, rule_id: int | None = None) -> int:
    """Create the rule (``rule_id`` None) or change it; returns its id. ``ValidationFailed``
    with every problem by form key; nothing is written then."""
    _require(actor)
    with unit_of_work():
        rule = get_rule(actor, rule_id) if rule_id is not None else None
        if rule is not None:
            data.entity_key = rule.entity_key  # a rule stays on its entity
        clean, errors = check(data, creating=rule is None)
        if errors:
            raise ValidationFailed(_("The approval rule was not saved."), errors=errors)
        before = snapshot(rule) if rule is not None else None
        if rule is None:
            rule = ApprovalRule()
            db.session.add(rule)
        for column, value in clean.items():
            setattr(rule, column, value)
        db.session.flush()
        after = snapshot(rule)
        if before != after:
            action = "approval_rule.create" if before is None else "approval_rule.update"
            _logged(actor, rule, action, before, after)
        return rule.id


def set_enabled(actor: Any, rule_id: int, enabled: bool) -> ApprovalRule:
    """Turn a rule on or off (pending requests it made stay pending)."""
    with unit_of_work():
        rule = get_rule(actor, rule_id)
        if rule.enabled != bool(enabled):
            rule.enabled = bool(enabled)
            action = "approval_rule.enable" if enabled else "approval_rule.disable"
            _logged(actor, rule, action, {"enabled": not enabled}, {"enabled": bool(enabled)})
    return rule


def delete(actor: Any, rule_id: int) -> None:
    """Delete a rule. Its pending requests keep waiting (they hold a copy of its steps)."""
    with unit_of_work():
        rule = get_rule(actor, rule_id)
        _logged(actor, rule, "approval_rule.delete", snapshot(rule), None)
        db.session.delete(rule)


@dataclass(frozen=True)
class EnabledRule:
    """An enabled rule as a save reads it (the columns it needs, no session attached)."""

    id: int
    key: str
    entity_key: str
    name: str
    translations: Mapping[str, Any]
    trigger: Mapping[str, Any]
    conditions: tuple[Mapping[str, Any], ...]
    steps: tuple[Any, ...]


_CACHE_KEY = ("approvals", "enabled rules")
RuleLike = ApprovalRule | EnabledRule  # what reading a rule's trigger, steps... accepts


def enabled_rules(entity_key: str) -> tuple[EnabledRule, ...]:
    """The enabled rules of an entity, oldest first (the first that holds a field wins).

    Read once per metadata version (a rule's every change moves it: ``_changed``), so a
    save of an entity without rules asks no question of the database."""
    compiled = specs.raw()
    found = compiled.derived.get(_CACHE_KEY)
    if found is None:
        query = select(ApprovalRule).where(ApprovalRule.enabled.is_(True))
        by_entity: dict[str, list[EnabledRule]] = {}
        for row in db.session.scalars(query.order_by(ApprovalRule.id)):
            by_entity.setdefault(row.entity_key, []).append(
                EnabledRule(
                    id=row.id, key=row.key, entity_key=row.entity_key, name=row.name,
                    translations=dict(row.translations or {}), trigger=dict(row.trigger or {}),
                    conditions=tuple(row.conditions or ()), steps=tuple(row.steps or ()),
                )
            )  # fmt: skip
        found = {key: tuple(rules) for key, rules in by_entity.items()}
        compiled.derived[_CACHE_KEY] = found
    return found.get(entity_key, ())


def wants(rule: RuleLike, spec: EntitySpec, current: Mapping, changed: Mapping) -> bool:
    """Whether the change ``changed`` of the record ``current`` is one ``rule`` holds (its
    trigger only; conditions are the caller's): entering the rule's stage, or a numeric
    field set to a new value above the threshold (also when it was above already: a raise
    from an approved 25 % to 40 % asks again)."""
    key = held_field(rule)
    if key not in changed or changed[key] == current.get(key):
        return False
    if rule.trigger.get("type") == STAGE:
        return changed[key] == rule.trigger.get("stage")
    f = spec.field(key)
    if f is None or changed[key] is None:
        return False
    new, threshold = _number(f, changed[key]), _number(f, rule.trigger.get("threshold"))
    return new is not None and threshold is not None and new > threshold


def describe(rule: RuleLike) -> str:
    """What the rule holds, in words: "entering stage Won", "Discount above 20"."""
    spec = specs.current().entity(rule.entity_key)
    if rule.trigger.get("type") == STAGE:
        found = pipelines_for(spec) if spec is not None else None
        stage = found.stage(rule.trigger.get("stage")) if found is not None else None
        shown = stage_name(stage) if stage is not None else rule.trigger.get("stage")
        return _("entering stage %(stage)s", stage=shown)
    key = held_field(rule)
    f = spec.field(key) if spec is not None else None
    return _(
        "%(field)s above %(threshold)s",
        field=f.label if f is not None else key,
        threshold=rule.trigger.get("threshold"),
    )
