"""What a rule does to a record: each action runs through the services, as the rule's
owner (their rights apply: a rule never widens access), and says what it did in words.

``ACTIONS`` maps an action's ``type`` to its function ``(ctx, action) -> words``; a type
with no entry fails the rule's run with "unknown action". An action refuses by raising a
``DomainError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import select

from crm.access import policy
from crm.access.models import User
from crm.activities import service as activities
from crm.activities.models import PRIORITIES
from crm.automation import assign
from crm.automation.spec import RuleSpec
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.i18n import company_timezone
from crm.metadata.spec import EntitySpec
from crm.notifications import mail, message
from crm.notifications import service as notifications
from crm.records import present, sharing
from crm.records import service as records
from crm.timeutil import local_today, utcnow
from crm.webhooks import service as webhooks
from crm.webhooks.models import REFUSED

MAX_DUE_DAYS = 3650


class UnknownAction(ValidationFailed):
    """An action of a type this engine does not run (yet)."""


@dataclass
class Context:
    """One rule's run on one record: the rule, its owner (whose rights apply), the entity
    and the record as the owner reads it (read again after each action that changes it)."""

    rule: RuleSpec
    owner: User
    spec: EntitySpec
    row: Mapping[str, Any]
    did: list[dict[str, str]] = field(default_factory=list)

    @property
    def record_id(self) -> int:
        return int(self.row["id"])

    def reload(self) -> None:
        self.row = records.get(self.owner, self.spec, self.record_id)


def _readable(user: User, spec: EntitySpec, record_id: int) -> bool:
    return bool(db.session.scalar(select(records.readable(user, spec, record_id))))


def rendered(text: Any, ctx: Context, reader: User | None) -> str:
    """A message template about the record, as ``reader`` may read it (a reader who may
    not read the record sees none of its fields)."""
    text = str(text or "")
    if reader is None or not _readable(reader, ctx.spec, ctx.record_id):
        return message.render(text, ctx.spec, {"id": ctx.record_id}, None)
    return message.render(text, ctx.spec, ctx.row, reader)


def set_fields(ctx: Context, action: Mapping[str, Any]) -> str:
    """Save the action's values (raw, as a form sends them) through the record service."""
    values = action.get("values")
    if not isinstance(values, Mapping) or not values:
        raise ValidationFailed(_("The action sets no field."))
    raw = {str(k): v for k, v in values.items()}
    saved = records.merge_update(
        ctx.owner, ctx.spec, ctx.record_id, None, raw, expected_version=ctx.row["version"]
    )
    labels = {f.key: f.label for f in ctx.spec.active_fields}
    ctx.reload()
    if not saved.written:
        return _("set nothing: the record already had those values")
    parts = [
        _("%(field)s to “%(value)s”", field=labels.get(k, k), value=raw.get(k, ""))
        for k in saved.written
    ]
    return _("set %(changes)s", changes=", ".join(parts))


def assign_owner(ctx: Context, action: Mapping[str, Any]) -> str:
    """Give the record to a user, or to the next member of a department or role."""
    chosen = assign.assignee(ctx.rule.id, ctx.spec, action.get("to"), action.get("how"))
    sharing.transfer(
        ctx.owner, ctx.spec, ctx.record_id, chosen, expected_version=ctx.row["version"]
    )
    ctx.reload()
    return _("assigned to %(name)s", name=assign.names([chosen]))


def create_task(ctx: Context, action: Mapping[str, Any]) -> str:
    """Plan a task on the record, its subject rendered for its assignee."""
    who = action.get("assignee", "owner")
    if who == "owner":
        assignee = assign.active_user(ctx.row.get("owner_id"))
    elif isinstance(who, Mapping):
        assignee = assign.active_user(who.get("user"))
    else:
        assignee = None
    if assignee is None:
        raise ValidationFailed(_("The task's assignee is not an active user."))
    try:
        days = int(action.get("due_in_days") or 0)
    except (TypeError, ValueError):
        days = -1
    if not 0 <= days <= MAX_DUE_DAYS:
        raise ValidationFailed(_("The task's due date is out of range."))
    priority = action.get("priority") or "normal"
    if priority not in PRIORITIES:
        priority = "normal"
    subject = rendered(action.get("subject"), ctx, assignee)[:200]
    due = local_today(company_timezone(), utcnow()) + timedelta(days=days)
    activities.add_task(
        ctx.owner, ctx.spec, ctx.record_id, subject=subject, due_date=due,
        priority=priority, assignee_id=assignee.id,
    )  # fmt: skip
    return _(
        "created the task “%(subject)s” for %(name)s, due %(due)s",
        subject=subject,
        name=assignee.display_name,
        due=format_date(due, "medium"),
    )


def notify(ctx: Context, action: Mapping[str, Any]) -> str:
    """Put a notification in each recipient's bell (and e-mail those who chose it)."""
    ids = assign.recipients(action.get("to"), ctx.row.get("owner_id"))
    if not ids:
        return _("notified nobody: no active recipient")
    notifications.notify(
        ids, kind="rule", title=str(action.get("title") or ctx.rule.name),
        body=str(action.get("body") or ""), spec=ctx.spec, row=ctx.row, actor_id=ctx.owner.id,
    )  # fmt: skip
    return _("notified %(names)s", names=assign.names(ids))


def email(ctx: Context, action: Mapping[str, Any]) -> str:
    """Send an e-mail to each recipient, rendered as they may read the record."""
    ids = assign.recipients(action.get("to"), ctx.row.get("owner_id"))
    users = db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)).all()
    if not users:
        return _("e-mailed nobody: no active recipient")
    for user in users:
        mail.send(user, rendered(action.get("subject"), ctx, user), rendered(
            action.get("body"), ctx, user))  # fmt: skip
    return _("e-mailed %(names)s", names=assign.names(ids))


def webhook(ctx: Context, action: Mapping[str, Any]) -> str:
    """Queue a signed call of the action's URL (``crm.webhooks``) with the record as the
    rule's owner may read it: the fields hidden from them are not sent."""
    fields = policy.visible_fields(ctx.owner, ctx.spec)
    record = {"id": ctx.record_id, "owner_id": ctx.row.get("owner_id")}
    record.update({f.key: records.jsonable(ctx.row.get(f.key)) for f in fields})
    payload = {
        "event": "rule",
        "rule": ctx.rule.key,
        "entity": ctx.spec.key,
        "record": record,
        "at": utcnow().replace(microsecond=0).isoformat() + "Z",
    }
    url = str(action.get("url") or "")
    delivery = webhooks.queue(
        url, f"rule.{ctx.rule.key}", payload, str(action.get("secret") or ""),
        source=webhooks.Source(ctx.rule.id, ctx.spec.key, ctx.record_id),
    )  # fmt: skip
    if delivery.status == REFUSED:
        return _("did not call %(url)s: %(reason)s", url=url, reason=delivery.last_error or "")
    return _("queued a call of %(url)s", url=url)


def return_to_pool(ctx: Context, action: Mapping[str, Any]) -> str:
    """Put the record back in the entity's customer pool, with the rule's reason on its
    timeline, as the rule's owner (their "assign" right on it applies)."""
    from crm.pools import service as pools

    reason = str(action.get("reason") or ctx.rule.name)
    pools.return_to_pool(
        ctx.owner, ctx.spec, [ctx.record_id], pool_key=action.get("pool"), note=reason
    )
    ctx.row = {**ctx.row, "owner_id": None}  # the pool holds it now
    return _("returned the record to the pool %(pool)s", pool=str(action.get("pool") or ""))


ACTIONS: dict[str, Callable[[Context, Mapping[str, Any]], str]] = {
    "set": set_fields,
    "assign": assign_owner,
    "task": create_task,
    "notify": notify,
    "email": email,
    "webhook": webhook,
    "pool": return_to_pool,
}


def run(ctx: Context, action: Any) -> str:
    """Run one action; returns what it did in words. ``UnknownAction`` for a type this
    engine does not run; any ``DomainError`` of the services it calls passes through."""
    kind = action.get("type") if isinstance(action, Mapping) else None
    fn = ACTIONS.get(kind) if isinstance(kind, str) else None
    if fn is None:
        raise UnknownAction(_("Unknown action “%(type)s”: it cannot run here.", type=str(kind)))
    return fn(ctx, action)


def record_name(ctx: Context) -> str:
    """The record's name as the rule's owner reads it."""
    return present.record_name(ctx.spec, ctx.row, ctx.owner)
