"""Trying a rule on a record: what it would do now, in words, writing nothing.

The rule runs exactly as it would (its conditions in SQL, its actions through the
services, with its owner's rights) inside a unit of work that is then rolled back: no
change, no task, no notification, no e-mail and no job stays. The administrator trying
it picks the record among those they may read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from crm.automation import engine
from crm.automation import spec as rule_specs
from crm.automation.events import DEPTH, MAX_DEPTH
from crm.automation.spec import RuleSpec
from crm.errors import DomainError, NotFound
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.records import lookup, present
from crm.records import service as records
from crm.uow import unit_of_work

MAX_ID = 2**31 - 1


@dataclass
class Trial:
    """What a rule would do to one record: ``applies`` (trigger aside, its conditions hold
    for the record as its owner reads it), ``reason`` when it would not run, ``status``
    ("done" or "failed"), ``did`` (each action in words) and ``error``."""

    rule: RuleSpec
    record_id: int
    record_name: str
    applies: bool = False
    reason: str = ""
    status: str | None = None
    did: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


def rule_for_trial(rule_id: int) -> tuple[RuleSpec, EntitySpec]:
    """The rule and its entity; ``NotFound`` for no such rule (or an id out of range)."""
    rule = rule_specs.rule(rule_id) if 1 <= rule_id <= MAX_ID else None
    spec = specs.current().entity(rule.entity_key) if rule is not None else None
    if rule is None or spec is None:
        raise NotFound(_("There is no such rule."))
    return rule, spec


def find_records(user: Any, spec: EntitySpec, q: str) -> list[tuple[int, str]]:
    """Records of ``spec`` that ``user`` may read whose name (or searchable fields)
    contains ``q``: (id, name), the most recently changed first, a few at most."""
    return lookup.lookup_options(user, spec, (q or "").strip()[:200])


def dry_run(user: Any, rule_id: int, record_id: int) -> Trial:
    """What rule ``rule_id`` would do to the record ``record_id`` now, writing nothing.
    ``NotFound`` when there is no such rule, or no such record that ``user`` may read."""
    rule, spec = rule_for_trial(rule_id)
    if not 1 <= record_id <= MAX_ID:
        raise NotFound(_("There is no such record, or you cannot see it."))
    row = records.get(user, spec, record_id)
    trial = Trial(rule, record_id, present.record_name(spec, row, user))
    owner = engine.owner_of(rule)
    if rule.problem:
        trial.reason = _("The rule cannot run: %(problem)s", problem=rule.problem)
        return trial
    if owner is None:
        trial.reason = _("The rule's owner is not an active user: it would not run.")
        return trial
    with unit_of_work() as unit:
        unit.discard()  # nothing of the trial stays: no write, no job, no e-mail
        unit.info[DEPTH] = MAX_DEPTH + 1  # and what it changes sets off no other rule
        try:
            hits = engine.matching(owner, spec, rule, [record_id])
        except DomainError as exc:
            trial.reason = exc.message
            return trial
        if record_id not in hits:
            trial.reason = _(
                "The record does not meet the rule's conditions, or the rule's owner may "
                "not read it: the rule would do nothing."
            )
            return trial
        trial.applies = True
        trial.status, trial.did, trial.error = engine.perform(rule, owner, spec, record_id)
    return trial
