"""System tables of automation rules, their run log and the marks of scheduled firings.

A rule is metadata: ``trigger``, ``conditions`` and ``actions`` are JSON in the shapes
below, checked by ``crm.automation.spec`` before they are stored, and the rule is written
with a metadata version bump and a change-log entry, like every configuration change.

``trigger`` (one of):

    {"type": "created"}
    {"type": "updated"}                                   any change of a live record
    {"type": "changed", "field": "status", "to": "won"}   "to" optional: any new value
    {"type": "stage_entered", "field": "stage", "stage": "proposal"}
    {"type": "stage_left", "field": "stage", "stage": "proposal"}
    {"type": "date", "field": "birthday", "offset_days": -7, "yearly": true}
        the day ``offset_days`` from the field's date (every year when ``yearly``; a
        29 February date falls on 28 February in other years)
    {"type": "held", "what": "no_activity", "days": 30}   no activity logged for N days
    {"type": "held", "what": "in_stage", "field": "stage", "stage": "proposal", "days": 14}

``conditions``: a list of list-view filters, ``{"field", "op", "value"}``
(``crm.metadata.list_views.check_filter``), all of which must hold.

``actions``: a list, run in order, each one of:

    {"type": "set", "values": {"field_key": "raw value as a form would send it"}}
    {"type": "assign", "to": {"user": 7}}
    {"type": "assign", "to": {"department": 3} | {"role": 2}, "how": "round_robin" | "least_loaded"}
    {"type": "task", "subject": "<template>", "due_in_days": 2, "priority": "normal",
     "assignee": "owner" | {"user": 7}}
    {"type": "notify", "to": [<recipient>...], "title": "<template>", "body": "<template>"}
    {"type": "email", "to": [<recipient>...], "subject": "<template>", "body": "<template>"}
    {"type": "webhook", "url": "https://...", "secret": "..."}

    <recipient>: "owner" | "manager" (the owner's department's manager) |
                 {"role": id} | {"department": id} | {"user": id}
    <template>: a message template (``crm.notifications.message``)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

# Outcomes of one rule on one record (the run log).
DONE, FAILED, SKIPPED, LOOP = "done", "failed", "skipped", "loop"


class AutomationRule(db.Model):
    """One rule on one entity. ``key`` never changes; ``name`` and its ``translations``
    (``{"name": {locale: text}}``) do. Actions run with the rights of ``owner_id`` (the
    administrator who saved the rule last): a rule never widens anyone's access."""

    __tablename__ = "automation_rules"
    __table_args__ = (Index("ix_automation_rules_entity", "entity_key", "enabled"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(41), unique=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    name: Mapped[str] = mapped_column(String(200))
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    trigger: Mapped[Any] = mapped_column(JSON)
    conditions: Mapped[Any] = mapped_column(JSON, default=list)
    actions: Mapped[Any] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_automation_rules_owner_id_users", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class RuleRun(db.Model):
    """What one rule did (or would not do) to one record: the run log."""

    __tablename__ = "automation_runs"
    __table_args__ = (Index("ix_automation_runs_rule", "rule_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(
        ForeignKey("automation_rules.id", name="fk_automation_runs_rule_id", ondelete="CASCADE")
    )
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    did: Mapped[Any] = mapped_column(JSON, default=list)  # [{"action": type, "words": ...}]
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RuleFiring(db.Model):
    """A scheduled rule fired for a record on one occasion (``occasion``: the date the
    rule was due for, or the start of the stretch a "held" condition measured), so the
    periodic job fires it once per occasion, never twice."""

    __tablename__ = "automation_firings"
    __table_args__ = (
        UniqueConstraint("rule_id", "record_id", "occasion", name="uq_automation_firings"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(
        ForeignKey("automation_rules.id", name="fk_automation_firings_rule_id", ondelete="CASCADE")
    )
    record_id: Mapped[int] = mapped_column(BigInteger)
    occasion: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RoundRobinPointer(db.Model):
    """Where an "assign round-robin" rule's turn is: the last member it gave a record to
    (the next is the first active member with a greater id, else the first again)."""

    __tablename__ = "automation_pointers"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey(
            "automation_rules.id", name="fk_automation_pointers_rule_id", ondelete="CASCADE"
        ),
        primary_key=True,
    )
    last_user_id: Mapped[int | None] = mapped_column(Integer)
