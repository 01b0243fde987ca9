"""Automation rules as configuration: the one service that writes them.

Every write (create, update, delete, enable, disable, reorder) runs in one unit of work
that bumps the metadata version and adds a change-log entry (``rule.create``,
``rule.update``, ``rule.delete``, ``rule.enable``, ``rule.disable``, ``rule.reorder``;
``entity_key`` the rule's entity, before/after as ``public`` gives them, the key
included; webhook secrets masked). Only people with the configure right write rules;
the rule's ``owner_id`` is the administrator who saved it last (its actions run with
that person's rights).

Every problem is reported at once in ``ValidationFailed.errors`` keyed by where it is
(``key``, ``entity_key``, ``name``, ``trigger.field``, ``conditions.0``,
``actions.1.values.amount`` ...), and nothing is written then
(``crm.automation.rule_checks`` checks the parts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from crm.access.models import User
from crm.access.policy import CONFIGURE, can
from crm.automation.models import AutomationRule, RuleRun
from crm.automation.rule_checks import check_rule
from crm.automation.rule_parts import Problems
from crm.errors import Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs as spec_cache
from crm.metadata.keys import key_problems
from crm.metadata.spec import EntitySpec
from crm.metadata.versioning import bump_version, log_change
from crm.uow import unit_of_work

MAX_RULES = 500  # per entity
RUNS_PER_PAGE = 50


def public(row: AutomationRule) -> dict:
    """What the change log (and a package) keeps of a rule: everything but ids and times."""
    return {
        "key": row.key,
        "entity_key": row.entity_key,
        "name": row.name,
        "translations": dict(row.translations or {}),
        "description": row.description or "",
        "enabled": bool(row.enabled),
        "trigger": dict(row.trigger or {}),
        "conditions": list(row.conditions or []),
        "actions": list(row.actions or []),
        "position": row.position,
    }


def _logged(row: AutomationRule) -> dict:
    """``public`` without webhook secrets: the change log is read by every configurer."""
    out = public(row)
    out["actions"] = [
        {**a, "secret": "•••"} if a.get("type") == "webhook" and a.get("secret") else a
        for a in out["actions"]
    ]
    return out


def _unit():
    return unit_of_work(clean=True, after_commit=[spec_cache.forget_request_specs])


def _actor(actor_id: int | None) -> Any:
    """The administrator saving (None: the system). Forbidden without the configure right."""
    if actor_id is None:
        return None
    user = db.session.get(User, actor_id)
    if user is None or not can(user, CONFIGURE):
        raise Forbidden(_("Only administrators can change automation rules."))
    return user


def _entity(key: Any) -> EntitySpec | None:
    if not isinstance(key, str):
        return None
    entity = spec_cache.raw().entity(key)
    return entity if entity is not None and not entity.archived else None


def _row(rule_id: Any) -> AutomationRule:
    if not isinstance(rule_id, int) or isinstance(rule_id, bool) or not 1 <= rule_id < 2**31:
        raise NotFound(_("There is no such rule."))
    row = db.session.get(AutomationRule, rule_id)
    if row is None:
        raise NotFound(_("There is no such rule."))
    return row


def _log(version: int, actor_id: int | None, row: AutomationRule, action: str, before, after):
    log_change(
        version=version,
        actor_id=actor_id,
        entity_key=row.entity_key,
        action=action,
        before=before,
        after=after,
    )


def _store(row: AutomationRule, clean: Mapping[str, Any], owner_id: int | None) -> None:
    for attr in ("name", "translations", "description", "enabled", "trigger", "conditions"):
        setattr(row, attr, clean[attr])
    row.actions = clean["actions"]
    row.owner_id = owner_id


def create_rule(
    data: Mapping[str, Any], *, actor_id: int | None, secrets_optional: bool = False
) -> AutomationRule:
    """Create the rule ``data`` describes (``entity_key``, ``key``, ``name``,
    ``translations`` {"name": {locale: text}}, ``description``, ``enabled``, ``trigger``,
    ``conditions``, ``actions``). ``secrets_optional``: webhooks may lack their secret
    (a package's rules). Raises ``ValidationFailed`` (every problem, nothing written) or
    ``Forbidden``."""
    with _unit():
        author = _actor(actor_id)
        version = bump_version()  # the version row's lock: rule writers queue up
        p = Problems()
        key = data.get("key")
        if not p.extend("key", key_problems(key if isinstance(key, str) else "", what="key")):
            taken = db.session.scalar(select(AutomationRule.id).where(AutomationRule.key == key))
            if taken is not None:
                p.add("key", _("The key “%(key)s” is already used.", key=key))
        entity = _entity(data.get("entity_key"))
        if entity is None:
            p.add("entity_key", _("Choose a kind of record."))
            raise ValidationFailed(_("Nothing was saved."), errors=p.errors)
        count = db.session.scalar(
            select(func.count()).where(AutomationRule.entity_key == entity.key)
        )
        if count >= MAX_RULES:
            p.add("key", _("An entity can have at most %(max)d rules.", max=MAX_RULES))
        clean = check_rule(p, entity, data, author, secrets_optional=secrets_optional)
        if p.errors:
            raise ValidationFailed(_("Nothing was saved."), errors=p.errors)
        top = db.session.scalar(
            select(func.max(AutomationRule.position)).where(AutomationRule.entity_key == entity.key)
        )
        row = AutomationRule(key=key, entity_key=entity.key, position=int(top or 0) + 10)
        _store(row, clean, actor_id)
        db.session.add(row)
        db.session.flush()
        _log(version, actor_id, row, "rule.create", None, _logged(row))
    return row


def update_rule(
    rule_id: int,
    data: Mapping[str, Any],
    *,
    actor_id: int | None,
    secrets_optional: bool = False,
) -> AutomationRule:
    """Change rule ``rule_id`` to ``data`` (its key and entity never change: any given in
    ``data`` are ignored). Nothing is logged when nothing changes. ``ValidationFailed``,
    ``NotFound``, ``Forbidden``."""
    with _unit() as unit:
        author = _actor(actor_id)
        version = bump_version()
        row = _row(rule_id)
        entity = _entity(row.entity_key)
        if entity is None:
            raise NotFound(_("Restore the entity before changing its rules."))
        p = Problems()
        clean = check_rule(p, entity, data, author, row, secrets_optional=secrets_optional)
        if p.errors:
            raise ValidationFailed(_("Nothing was saved."), errors=p.errors)
        before = public(row)
        logged_before = _logged(row)
        _store(row, clean, actor_id)
        db.session.flush()
        if public(row) == before:
            unit.discard()  # no change: no version bump either
            return row
        _log(version, actor_id, row, "rule.update", logged_before, _logged(row))
    return row


def delete_rule(rule_id: int, *, actor_id: int | None) -> None:
    """Delete rule ``rule_id`` with its run log. ``NotFound``, ``Forbidden``."""
    with _unit():
        _actor(actor_id)
        version = bump_version()
        row = _row(rule_id)
        _log(version, actor_id, row, "rule.delete", _logged(row), None)
        db.session.execute(delete(RuleRun).where(RuleRun.rule_id == row.id))
        db.session.execute(delete(AutomationRule).where(AutomationRule.id == row.id))


def set_enabled(rule_id: int, enabled: bool, *, actor_id: int | None) -> AutomationRule:
    """Enable or disable rule ``rule_id`` (nothing happens when it already is so)."""
    with _unit() as unit:
        _actor(actor_id)
        version = bump_version()
        row = _row(rule_id)
        if bool(row.enabled) == bool(enabled):
            unit.discard()
            return row
        row.enabled = bool(enabled)
        db.session.flush()
        action = "rule.enable" if enabled else "rule.disable"
        before = {"key": row.key, "enabled": not enabled}
        _log(version, actor_id, row, action, before, {"key": row.key, "enabled": bool(enabled)})
    return row


def reorder(entity_key: str, rule_ids: Sequence[int], *, actor_id: int | None) -> None:
    """Put the rules of ``entity_key`` in the order of ``rule_ids`` (rules run in this
    order); ``rule_ids`` must name each of them once. ``ValidationFailed`` otherwise."""
    with _unit() as unit:
        _actor(actor_id)
        version = bump_version()
        rows = db.session.scalars(
            select(AutomationRule)
            .where(AutomationRule.entity_key == entity_key)
            .order_by(AutomationRule.position, AutomationRule.id)
        ).all()
        if sorted(r.id for r in rows) != sorted(rule_ids) or len(set(rule_ids)) != len(rule_ids):
            raise ValidationFailed(
                _("Nothing was saved."),
                errors={"order": [_("Name every rule of this entity once.")]},
            )
        before = [r.key for r in rows]
        by_id = {r.id: r for r in rows}
        for n, rid in enumerate(rule_ids, start=1):
            by_id[rid].position = n * 10
        after = [by_id[rid].key for rid in rule_ids]
        if before == after:
            unit.discard()
            return
        db.session.flush()
        log_change(
            version=version,
            actor_id=actor_id,
            entity_key=entity_key,
            action="rule.reorder",
            before={"order": before},
            after={"order": after},
        )


def move(rule_id: int, direction: str, *, actor_id: int | None) -> None:
    """Move rule ``rule_id`` one place up or down among its entity's rules (``reorder``);
    nothing happens at either end. ``ValidationFailed`` for another ``direction``."""
    if direction not in ("up", "down"):
        raise ValidationFailed(_("Nothing was saved."), errors={"order": [_("Choose up or down.")]})
    row = _row(rule_id)
    ids = list(
        db.session.scalars(
            select(AutomationRule.id)
            .where(AutomationRule.entity_key == row.entity_key)
            .order_by(AutomationRule.position, AutomationRule.id)
        )
    )
    i = ids.index(row.id)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
        reorder(row.entity_key, ids, actor_id=actor_id)


# -- reading ---------------------------------------------------------------------------------


def get_rule(rule_id: int) -> AutomationRule:
    """Rule ``rule_id``, or ``NotFound``."""
    return _row(rule_id)


def all_rules() -> list[AutomationRule]:
    """Every rule, by entity then in the order they run."""
    return list(
        db.session.scalars(
            select(AutomationRule).order_by(
                AutomationRule.entity_key, AutomationRule.position, AutomationRule.id
            )
        )
    )


def rule_by_key(key: str) -> AutomationRule | None:
    """The rule with ``key``, or None."""
    return db.session.scalar(select(AutomationRule).where(AutomationRule.key == key))


def last_runs(rule_ids: Sequence[int]) -> dict[int, RuleRun]:
    """The latest run of each of ``rule_ids`` that has run (one query)."""
    if not rule_ids:
        return {}
    latest = (
        select(func.max(RuleRun.id))
        .where(RuleRun.rule_id.in_(list(rule_ids)))
        .group_by(RuleRun.rule_id)
    )
    rows = db.session.scalars(select(RuleRun).where(RuleRun.id.in_(latest)))
    return {r.rule_id: r for r in rows}


def runs_page(rule_id: int, page: int, per_page: int = RUNS_PER_PAGE) -> tuple[list[RuleRun], bool]:
    """Page ``page`` (from 1) of rule ``rule_id``'s run log, newest first, and whether an
    older page exists."""
    rows = db.session.scalars(
        select(RuleRun)
        .where(RuleRun.rule_id == rule_id)
        .order_by(RuleRun.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    ).all()
    return list(rows[:per_page]), len(rows) > per_page
