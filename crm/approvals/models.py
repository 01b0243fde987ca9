"""System tables of approval rules, the requests they hold and the decisions taken on them.

``ApprovalRule.trigger`` (one of):

    {"type": "stage", "stage": "won"}                     entering stage "won"
    {"type": "above", "field": "discount", "threshold": "20"}
        a numeric field set to a value above the threshold (text, read by the field's type)

``conditions``: list-view filters ``{"field", "op", "value"}`` the record must match too.

``steps``: the approvers, in order; each one of ``"manager"`` (the record owner's department's
manager), ``{"role": id}`` (any active member), ``{"user": id}``.

A request keeps a copy of the rule's name and steps: editing or deleting the rule does not
change what a pending request waits for.
"""

from __future__ import annotations

from datetime import datetime

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

PENDING, APPROVED, REJECTED, CANCELLED = "pending", "approved", "rejected", "cancelled"
STATUSES = (PENDING, APPROVED, REJECTED, CANCELLED)
APPROVE, REJECT = "approve", "reject"


class ApprovalRule(db.Model):
    """One approval rule on one entity; ``key`` never changes, ``name`` and its
    ``translations`` (``{"name": {locale: text}}``) do."""

    __tablename__ = "approval_rules"
    __table_args__ = (Index("ix_approval_rules_entity", "entity_key", "enabled"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(41), unique=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    name: Mapped[str] = mapped_column(String(200))
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    trigger: Mapped[dict] = mapped_column(JSON)
    conditions: Mapped[list] = mapped_column(JSON, default=list)
    steps: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class ApprovalRequest(db.Model):
    """A change of one record held until it is approved: ``changes`` ``{field: new value}``
    (as JSON keeps it), ``before`` the values then; ``step`` counts from 1."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        Index("ix_approval_requests_record", "entity_key", "record_id", "status"),
        Index("ix_approval_requests_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("approval_rules.id", name="fk_approval_requests_rule_id", ondelete="SET NULL")
    )
    rule_name: Mapped[str] = mapped_column(String(200))
    steps: Mapped[list] = mapped_column(JSON)
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    changes: Mapped[dict] = mapped_column(JSON)
    before: Mapped[dict] = mapped_column(JSON)
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_approval_requests_requested_by", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    step: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)


class ApprovalDecision(db.Model):
    """One approver's answer at one step of a request."""

    __tablename__ = "approval_decisions"
    __table_args__ = (Index("ix_approval_decisions_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey(
            "approval_requests.id", name="fk_approval_decisions_request_id", ondelete="CASCADE"
        )
    )
    step: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_approval_decisions_user_id", ondelete="SET NULL")
    )
    decision: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
