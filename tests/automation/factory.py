"""Automation rules for tests: rows inserted straight into ``automation_rules`` (the
saving service is another piece of work), with the metadata version bumped as a save
would, so the compiled rules are read again."""

from __future__ import annotations

from itertools import count
from typing import Any

from sqlalchemy import select

from crm.automation.models import AutomationRule, RuleRun
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.versioning import bump_version

_seq = count(1)


def make_rule(
    owner: Any,
    trigger: dict,
    actions: list[dict],
    *,
    entity: str = "deal",
    conditions: list[dict] | None = None,
    enabled: bool = True,
    position: int | None = None,
    name: str | None = None,
) -> int:
    """Insert and commit a rule owned by ``owner``; returns its id."""
    n = next(_seq)
    rule = AutomationRule(
        key=f"rule_{n}",
        entity_key=entity,
        name=name or f"Rule {n}",
        description="",
        enabled=enabled,
        trigger=trigger,
        conditions=conditions or [],
        actions=actions,
        position=n if position is None else position,
        owner_id=getattr(owner, "id", owner),
    )
    db.session.add(rule)
    db.session.flush()
    bump_version()
    db.session.commit()
    specs.forget_request_specs()
    return rule.id


def runs(rule_id: int | None = None) -> list[RuleRun]:
    """The run log (of one rule), oldest first."""
    db.session.rollback()
    query = select(RuleRun).order_by(RuleRun.id)
    if rule_id is not None:
        query = query.where(RuleRun.rule_id == rule_id)
    return list(db.session.scalars(query))
