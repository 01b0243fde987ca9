"""Approval requests as their readers may see them: the held change field by field (a
value the reader may not read shows "—"; a record they may not read at all shows no value
of it), the steps and decisions, and the lists of "waiting for me" and "mine"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access import directory, policy
from crm.approvals import service
from crm.approvals.models import PENDING, ApprovalDecision, ApprovalRequest
from crm.extensions import db
from crm.metadata import specs, types
from crm.records import present

HIDDEN = "—"
LIST_LIMIT = 100


@dataclass(frozen=True)
class ChangeLine:
    label: str
    before: str
    after: str


@dataclass
class RequestView:
    """One request for one reader."""

    req: ApprovalRequest
    entity_label: str
    record_name: str
    readable: bool  # the reader may open the record
    lines: list[ChangeLine]
    steps: list[tuple[int, str]]  # (number, who approves)
    decisions: list[ApprovalDecision]
    can_decide: bool
    waiting: str  # "Waiting for approval (step 1 of 2: …)", "" when decided
    users: dict[int, str] = field(default_factory=dict)


def _stored(f, value: Any) -> Any:
    if value is None:
        return None
    try:
        return types.get(f.type).parse(f, value)
    except (ValueError, TypeError):
        return value


def view(user: Any, request_id: int) -> RequestView:
    """The request ``request_id`` as ``user`` may see it (``NotFound`` as ``get_request``)."""
    req = service.get_request(user, request_id)
    spec = specs.current().entity(req.entity_key)
    row = service.readable_row(user, spec, req.record_id) if spec is not None else None
    readable = row is not None
    lines: list[ChangeLine] = []
    name = _("A record you cannot see")
    if spec is not None:
        visible = {f.key: f for f in policy.visible_fields(user, spec, "read")} if readable else {}
        fields = [visible[k] for k in req.changes if k in visible]
        rows = [
            {**{f.key: _stored(f, req.before.get(f.key)) for f in fields}, "id": req.record_id},
            {**{f.key: _stored(f, req.changes.get(f.key)) for f in fields}, "id": req.record_id},
        ]
        display = present.Display(user, spec, fields, rows) if fields else None
        for key in req.changes:
            f = spec.field(key)
            label = present.field_label(f) if f is not None else key
            if display is None or key not in visible:
                lines.append(ChangeLine(label, HIDDEN, HIDDEN))
                continue
            shown = visible[key]
            lines.append(
                ChangeLine(
                    label,
                    display.text(shown, rows[0][key]) or HIDDEN,
                    display.text(shown, rows[1][key]) or HIDDEN,
                )
            )
        if row is not None:
            name = present.record_name(spec, row, user)
    decisions = list(
        db.session.scalars(
            select(ApprovalDecision)
            .where(ApprovalDecision.request_id == req.id)
            .order_by(ApprovalDecision.id)
        )
    )
    ids = {req.requested_by, *(d.user_id for d in decisions)} - {None}
    return RequestView(
        req=req,
        entity_label=spec.label_singular if spec is not None else req.entity_key,
        record_name=name,
        readable=readable,
        lines=lines,
        steps=[(n, service.step_label(s)) for n, s in enumerate(req.steps, start=1)],
        decisions=decisions,
        can_decide=service.may_decide(user, req),
        waiting=service.waiting_words(req) if req.status == PENDING else "",
        users=directory.user_names(ids),
    )


@dataclass(frozen=True)
class Item:
    req: ApprovalRequest
    entity_label: str
    record_name: str
    waiting: str


@dataclass
class Inbox:
    waiting: list[Item]  # the user may decide them now
    mine: list[Item]  # the user asked for them
    users: dict[int, str]


def _item(user: Any, req: ApprovalRequest) -> Item:
    spec = specs.current().entity(req.entity_key)
    name = _("A record you cannot see")
    if spec is not None:
        row = service.readable_row(user, spec, req.record_id)
        if row is not None:
            name = present.record_name(spec, row, user)
    label = spec.label_singular if spec is not None else req.entity_key
    waiting = service.waiting_words(req) if req.status == PENDING else ""
    return Item(req, label, name, waiting)


def inbox(user: Any) -> Inbox:
    """The pending requests ``user`` may decide now (every pending one for administrators)
    and the newest ones they asked for."""
    pending = db.session.scalars(
        select(ApprovalRequest)
        .where(ApprovalRequest.status == PENDING)
        .order_by(ApprovalRequest.id)
        .limit(10 * LIST_LIMIT)
    )
    waiting = [r for r in pending if service.may_decide(user, r)][:LIST_LIMIT]
    mine = list(
        db.session.scalars(
            select(ApprovalRequest)
            .where(ApprovalRequest.requested_by == user.id)
            .order_by(ApprovalRequest.id.desc())
            .limit(LIST_LIMIT)
        )
    )
    ids = {r.requested_by for r in waiting} - {None}
    return Inbox(
        [_item(user, r) for r in waiting], [_item(user, r) for r in mine],
        directory.user_names(ids),
    )  # fmt: skip
