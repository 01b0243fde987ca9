"""The hold: what the record service asks before it writes a change.

``hold`` runs inside the save's unit of work, on the values the save is about to write. A
change of a field that a pending request holds is refused; a change an enabled rule wants
approved is taken out of the save and kept in a new request (step 1's approvers notified),
in the same transaction: the save and its request commit together, or neither does. The
other fields of the same edit are written: one held value does not throw away the rest of
someone's work, and the request shows exactly what waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.approvals import rules as approval_rules
from crm.approvals.models import PENDING, ApprovalRequest
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import types
from crm.metadata.spec import EntitySpec
from crm.pipelines import rules as stage_rules
from crm.pipelines.spec import STAGE_FIELD
from crm.records.query import scoped, table_of


def pending_fields(entity_key: str, record_id: int) -> set[str]:
    """The fields pending requests of the record hold."""
    query = select(ApprovalRequest.changes).where(
        ApprovalRequest.entity_key == entity_key,
        ApprovalRequest.record_id == record_id,
        ApprovalRequest.status == PENDING,
    )
    return {k for changes in db.session.scalars(query) for k in (changes or {})}


def hold(
    user: Any, spec: EntitySpec, current: Mapping[str, Any], changed: Mapping[str, Any]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``(values still to write, keys held for approval)`` of the change ``changed`` that
    ``user`` is saving to the record ``current`` (stored values both).

    ``ValidationFailed`` keyed by field when the change touches a field a pending request
    holds, or when a held stage move misses its gate's values (the approver would approve
    a move that cannot be made); nothing is held then."""
    from crm.approvals import service

    pending = pending_fields(spec.key, current["id"]) & set(changed)
    if pending:
        message = _("This value waits for approval; change it once the request is decided.")
        raise ValidationFailed(message, errors={k: [message] for k in sorted(pending)})
    rules = approval_rules.enabled_rules(spec.key)
    remaining = dict(changed)
    held: list[str] = []
    for rule in rules:
        key = approval_rules.held_field(rule)
        if key in held or not approval_rules.wants(rule, spec, current, remaining):
            continue
        if not _conditions_hold(user, spec, current["id"], rule):
            continue
        if key == STAGE_FIELD:
            stage_rules.prepare(spec, current, dict(changed))  # GateBlocked: fill it first
        service.open_request(user, spec, current, rule, {key: remaining.pop(key)}, changed)
        held.append(key)
    return remaining, tuple(held)


def _conditions_hold(
    user: Any, spec: EntitySpec, record_id: int, rule: approval_rules.RuleLike
) -> bool:
    """Whether the record, as saved before this change, matches the rule's conditions."""
    if not rule.conditions:
        return True
    table = table_of(spec)
    dialect = db.session.get_bind().dialect.name
    conditions = []
    for c in rule.conditions:
        f = spec.field(str(c.get("field")))
        if f is None or f.archived:
            return False  # a condition on a field gone: the rule cannot be judged, holds nothing
        conditions.append(
            types.build_filter(
                f, table.c[f.key], c.get("op"), c.get("value"),
                dialect_name=dialect, user_id=getattr(user, "id", None),
            )
        )  # fmt: skip
    query = scoped(user, spec, "edit", columns=[table.c.id]).where(table.c.id == record_id)
    return db.session.scalar(query.where(*conditions)) is not None


def check_bulk(spec: EntitySpec, key: str, value: Any, record_ids) -> None:
    """Refuse a bulk edit setting ``key`` to ``value`` on ``record_ids`` when an enabled
    rule would hold that change (whatever its conditions: a bulk edit asks no approval,
    so it is done record by record instead), or a pending request holds the field on one
    of the records. ``ValidationFailed`` keyed by the field; reads only."""
    for rule in approval_rules.enabled_rules(spec.key):
        if approval_rules.wants(rule, spec, {key: None}, {key: value}):
            message = _(
                "“%(rule)s” asks for approval of this change: make it record by record.",
                rule=approval_rules.rule_name(rule),
            )
            raise ValidationFailed(message, errors={key: [message]})
    ids = [int(i) for i in record_ids]
    query = select(ApprovalRequest.changes).where(
        ApprovalRequest.entity_key == spec.key,
        ApprovalRequest.record_id.in_(ids),
        ApprovalRequest.status == PENDING,
    )
    if ids and any(key in (changes or {}) for changes in db.session.scalars(query)):
        message = _("This value waits for approval on some of these records.")
        raise ValidationFailed(message, errors={key: [message]})
