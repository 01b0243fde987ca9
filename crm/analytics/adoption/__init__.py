"""The adoption evaluation: is the CRM used, by whom, how much of it, how often, how
complete is its data, and what changed after go-live.

Figures only, never one person's behaviour: people are counted per department and per
role, and for readers who are not full administrators a group of fewer than
``MIN_GROUP`` people shows no figures (a department of one would be that person).

Everything is aggregated in SQL: usage from ``usage_days`` (``crm.analytics.usage``),
records from the entity tables through the scoped query layer (the reader's own scope:
an access manager who reads only their department's accounts gets those accounts' fill
rates), activities, stage moves and rule runs from their system tables.

The parts live by concern: ``period`` (the period asked for, shared helpers),
``breadth`` (breadth and frequency), ``depth``, ``completeness`` and ``effect``; this
module gathers them into one ``Evaluation``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from crm.access.models import User
from crm.analytics.adoption.breadth import Group, Week, breadth, frequency
from crm.analytics.adoption.completeness import (
    Completeness,
    GateFill,
    completeness,
    gate_completeness,
)
from crm.analytics.adoption.depth import Used, depth
from crm.analytics.adoption.effect import Effect, effect
from crm.analytics.adoption.period import (
    DEFAULT_WEEKS,
    MAX_WEEKS,
    MIN_GROUP,
    Period,
    default_golive,
    period_from,
)
from crm.extensions import db

__all__ = [
    "DEFAULT_WEEKS",
    "MAX_WEEKS",
    "MIN_GROUP",
    "Completeness",
    "Effect",
    "Evaluation",
    "GateFill",
    "Group",
    "Period",
    "Used",
    "Week",
    "breadth",
    "completeness",
    "default_golive",
    "depth",
    "effect",
    "evaluate",
    "frequency",
    "gate_completeness",
    "period_from",
]


@dataclass
class Evaluation:
    period: Period
    departments: list[Group]
    roles: list[Group]
    weeks: list[Week]
    completeness: list[Completeness]
    used: list[Used]
    effects: list[Effect]
    never_signed_in: int
    people: int
    gates: list[GateFill] = field(default_factory=list)


def evaluate(reader: Any, period: Period) -> Evaluation:
    """Every figure of the evaluation for ``reader`` over ``period``."""
    departments, roles = breadth(reader, period)
    never = db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.is_active.is_(True), User.last_login_at.is_(None))
    )
    people = db.session.scalar(
        select(func.count()).select_from(User).where(User.is_active.is_(True))
    )
    return Evaluation(
        period,
        departments,
        roles,
        frequency(reader, period),
        completeness(reader),
        depth(reader, period),
        effect(reader, period),
        int(never or 0),
        int(people or 0),
        gate_completeness(reader),
    )
