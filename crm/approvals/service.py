"""Approval requests: opening one (from the hold), who approves each step, deciding, and
what the record's timeline tells of them.

Who may see a request: the one who asked, its approvers (of any step), those who decided
on it, and administrators; to anyone else it does not exist (``NotFound``). Who may decide:
an approver of the current step, or an administrator. An approver need not be able to read
the record: they decide on the request, and see only the values they may read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from crm.access.models import Department, User, user_roles
from crm.approvals import rules as approval_rules
from crm.approvals.models import (
    APPROVE,
    APPROVED,
    PENDING,
    REJECT,
    REJECTED,
    ApprovalDecision,
    ApprovalRequest,
)
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.notifications import service as notifications
from crm.records import service as records
from crm.records.service import TimelineEntry
from crm.timeutil import utcnow
from crm.uow import unit_of_work

MAX_COMMENT = 2000
MAX_ID = approval_rules.MAX_ID
# Where an approval notification leads (the request page, which an approver who may not
# read the record still opens); the same path as the view's route, checked by the tests.
REQUEST_PATH = "/approvals/{id}"


def _literal(text: str) -> str:
    """Text put into a message template as it is: no braces to read as a quote."""
    return str(text).replace("{", "(").replace("}", ")")


def _resolved_steps(steps: Iterable[Any], owner_id: int | None) -> list:
    """A rule's steps with "manager" resolved to the record owner's department's manager
    now (``{"manager": id}``, None when the owner has none: administrators decide)."""
    out = []
    for step in steps:
        if step == approval_rules.MANAGER:
            manager = db.session.scalar(
                select(Department.manager_id)
                .join(User, User.department_id == Department.id)
                .where(User.id == owner_id)
            )
            out.append({"manager": manager})
        else:
            out.append(step)
    return out


def step_approvers(step: Any) -> set[int]:
    """The active users who may approve ``step`` (a resolved step of a request)."""
    if not isinstance(step, Mapping):
        return set()
    if "role" in step:
        query = (
            select(User.id)
            .join(user_roles, user_roles.c.user_id == User.id)
            .where(user_roles.c.role_id == step["role"], User.is_active.is_(True))
        )
        return set(db.session.scalars(query))
    wanted = step.get("user") or step.get("manager")
    if not wanted:
        return set()
    return set(db.session.scalars(select(User.id).where(User.id == wanted, User.is_active)))


def _admins() -> set[int]:
    return set(db.session.scalars(select(User.id).where(User.is_admin, User.is_active)))


def current_approvers(req: ApprovalRequest) -> set[int]:
    """Who may approve the request's current step (administrators aside)."""
    if req.status != PENDING or not 1 <= req.step <= len(req.steps):
        return set()
    return step_approvers(req.steps[req.step - 1])


def step_label(step: Any) -> str:
    """Who approves a step, in words: "Manager (Maria)", a role's name, a person's name."""
    if isinstance(step, Mapping) and "manager" in step:
        names = _names([step["manager"]]) if step["manager"] else {}
        name = names.get(step["manager"])
        return _("Manager (%(name)s)", name=name) if name else _("Manager")
    if isinstance(step, Mapping) and "role" in step:
        from crm.access.models import Role

        role = db.session.get(Role, step["role"])
        return role.name if role is not None else _("A role no longer there")
    if isinstance(step, Mapping) and "user" in step:
        return _names([step["user"]]).get(step["user"]) or _("A person no longer there")
    return _("Manager")


def _names(ids: Iterable[int]) -> dict[int, str]:
    from crm.access import directory

    return directory.user_names([i for i in ids if i])


def waiting_words(req: ApprovalRequest) -> str:
    """ "Waiting for approval (step 1 of 2: Manager)"."""
    return _(
        "Waiting for approval (step %(step)d of %(total)d: %(who)s)",
        step=req.step,
        total=len(req.steps),
        who=step_label(req.steps[req.step - 1]),
    )


def readable_row(user: Any, spec: EntitySpec, record_id: int) -> Mapping[str, Any] | None:
    """The live record as ``user`` may read it; None when they may not."""
    try:
        return records.get(user, spec, record_id)
    except NotFound:
        return None


def _row_as(user: Any, spec: EntitySpec, record_id: int) -> Mapping[str, Any]:
    """The record as ``user`` may read it, or only its id when they may not."""
    return readable_row(user, spec, record_id) or {"id": record_id}


def _notify_step(req: ApprovalRequest, spec: EntitySpec, row: Mapping, actor_id: int | None):
    who = current_approvers(req) or _admins()
    title = _l("Approval needed: %(record)s", record="{{ record_name }}")
    body = _l(
        "“%(rule)s” holds a change until you approve or reject it (step %(step)d of %(total)d).",
        rule=_literal(req.rule_name), step=req.step, total=len(req.steps),
    )  # fmt: skip
    notifications.notify(
        who, kind="approval", title=title, body=body, spec=spec, row=row, actor_id=actor_id,
        link=REQUEST_PATH.format(id=req.id),
    )  # fmt: skip


def open_request(
    user: Any,
    spec: EntitySpec,
    current: Mapping[str, Any],
    rule: approval_rules.RuleLike,
    change: Mapping[str, Any],
    saving: Mapping[str, Any] | None = None,
) -> ApprovalRequest:
    """Keep ``change`` (``{field: stored value}``) of the record ``current`` in a new
    request by ``rule`` and notify step 1's approvers, in the caller's unit of work
    (``saving``: the whole save, so the notification names the record as it will read)."""
    req = ApprovalRequest(
        rule_id=rule.id,
        rule_name=rule.name,
        steps=_resolved_steps(rule.steps, current.get("owner_id")),
        entity_key=spec.key,
        record_id=int(current["id"]),
        changes={k: records.jsonable(v) for k, v in change.items()},
        before={k: records.jsonable(current.get(k)) for k in change},
        requested_by=getattr(user, "id", None),
        status=PENDING,
        step=1,
        created_at=utcnow(),
    )
    db.session.add(req)
    db.session.flush()
    _notify_step(req, spec, {**current, **(saving or {}), **change}, getattr(user, "id", None))
    return req


def _involved(user: Any, req: ApprovalRequest) -> bool:
    if getattr(user, "is_admin", False) or req.requested_by == user.id:
        return True
    if any(user.id in step_approvers(s) for s in req.steps):
        return True
    return bool(
        db.session.scalar(
            select(ApprovalDecision.id).where(
                ApprovalDecision.request_id == req.id, ApprovalDecision.user_id == user.id
            )
        )
    )


def get_request(user: Any, request_id: int) -> ApprovalRequest:
    """The request, if ``user`` may see it; ``NotFound`` otherwise."""
    req = db.session.get(ApprovalRequest, request_id) if 1 <= request_id <= MAX_ID else None
    if req is None or not _involved(user, req):
        raise NotFound(_("There is no such approval request, or you cannot see it."))
    return req


def may_decide(user: Any, req: ApprovalRequest) -> bool:
    """Whether ``user`` may approve or reject the request now."""
    if req.status != PENDING:
        return False
    return bool(getattr(user, "is_admin", False)) or user.id in current_approvers(req)


def _clean_comment(comment: Any) -> str:
    text = str(comment or "").replace("\x00", "").strip()
    if len(text) > MAX_COMMENT:
        message = _("Use at most %(num)d characters.", num=MAX_COMMENT)
        raise ValidationFailed(message, errors={"comment": [message]})
    return text


def decide(user: Any, request_id: int, decision: str, comment: str = "") -> ApprovalRequest:
    """Approve or reject the request's current step as ``user``, with ``comment``.

    Approving the last step applies the held change through the record service as the
    person who asked for it, in the same transaction as the decision. ``NotFound`` when
    ``user`` may not see the request; ``Forbidden`` when they may see it but not decide
    now; ``Conflict`` when it was decided meanwhile or the change cannot be applied (the
    record changed those values meanwhile, the asker may no longer edit it): nothing is
    written then and the request stays pending."""
    if decision not in (APPROVE, REJECT):
        message = _("Choose approve or reject.")
        raise ValidationFailed(message, errors={"decision": [message]})
    text = _clean_comment(comment)
    with unit_of_work():
        req = get_request(user, request_id)
        if req.status != PENDING:
            raise Conflict(_("This request has been decided already."))
        if not may_decide(user, req):
            raise Forbidden(_("Only an approver of the current step can decide this request."))
        spec = specs.current().entity(req.entity_key)
        if spec is None:
            raise Conflict(_("The record's entity no longer exists."))
        step, now = req.step, utcnow()
        last = step >= len(req.steps)
        if decision == REJECT:
            values: dict[str, Any] = {"status": REJECTED, "decided_at": now}
        elif last:
            _apply(req, spec)
            values = {"status": APPROVED, "decided_at": now}
        else:
            values = {"step": step + 1}
        claimed = db.session.execute(
            update(ApprovalRequest)
            .where(
                ApprovalRequest.id == req.id,
                ApprovalRequest.status == PENDING,
                ApprovalRequest.step == step,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            raise Conflict(_("Someone else decided this request just now."))
        for column, value in values.items():
            setattr(req, column, value)
        db.session.add(
            ApprovalDecision(
                request_id=req.id, step=step, user_id=user.id, decision=decision,
                comment=text, at=now,
            )
        )  # fmt: skip
        requester = db.session.get(User, req.requested_by) if req.requested_by else None
        row = _row_as(requester, spec, req.record_id) if requester else {"id": req.record_id}
        if req.status == PENDING:
            _notify_step(req, spec, row, user.id)
        else:
            _notify_outcome(req, spec, row, user.id, text)
    return req


def _notify_outcome(req, spec, row, actor_id: int, comment: str) -> None:
    rule, note = _literal(req.rule_name), _literal(comment) if comment else ""

    def title() -> str:
        if req.status == APPROVED:
            return _("Approved: %(record)s", record="{{ record_name }}")
        return _("Rejected: %(record)s", record="{{ record_name }}")

    def body() -> str:
        if req.status == APPROVED:
            words = _("Your change held by “%(rule)s” was approved and saved.", rule=rule)
        else:
            words = _("Your change held by “%(rule)s” was rejected; nothing was changed.",
                      rule=rule)  # fmt: skip
        return words + ("\n" + note if note else "")

    notifications.notify(
        [req.requested_by], kind="approval_outcome", title=title, body=body, spec=spec,
        row=row, actor_id=actor_id, link=REQUEST_PATH.format(id=req.id),
    )  # fmt: skip


def _apply(req: ApprovalRequest, spec: EntitySpec) -> None:
    """Write the held change as the one who asked for it (``Conflict`` when it cannot)."""
    requester = db.session.get(User, req.requested_by) if req.requested_by else None
    if requester is None or not requester.is_active:
        raise Conflict(_("The change cannot be saved: the person who asked is no longer active."))
    try:
        current = records.get(requester, spec, req.record_id, action="edit")
    except NotFound:
        raise Conflict(
            _("The change cannot be saved: the person who asked may no longer edit this record.")
        ) from None
    moved = [k for k in req.changes if records.jsonable(current.get(k)) != req.before.get(k)]
    if moved:
        fields = ", ".join(spec.field(k).label if spec.field(k) else k for k in moved)
        raise Conflict(
            _("%(fields)s changed since the request was made, so the change was not saved; "
              "the request is still pending.", fields=fields)
        )  # fmt: skip
    try:
        records.merge_update(
            requester, spec, req.record_id, None, dict(req.changes),
            expected_version=current["version"], hold=False,
        )  # fmt: skip
    except ValidationFailed as exc:
        problems = " ".join(m for ms in exc.errors.values() for m in ms) or exc.message
        raise Conflict(_("The change cannot be saved: %(problem)s", problem=problems)) from None


def waiting_on(spec: EntitySpec, record_id: int) -> list[ApprovalRequest]:
    """The pending requests of a record, oldest first (its page's banner: the caller has
    read the record)."""
    query = select(ApprovalRequest).where(
        ApprovalRequest.entity_key == spec.key,
        ApprovalRequest.record_id == record_id,
        ApprovalRequest.status == PENDING,
    )
    return list(db.session.scalars(query.order_by(ApprovalRequest.id)))


def timeline_entries(entity_key: str, record_id: int, limit: int) -> list[TimelineEntry]:
    """Requests and decisions of a record as timeline entries (kind "approval": ``subject``
    the words, ``body`` the comment); the caller has checked the read right."""
    reqs = list(
        db.session.scalars(
            select(ApprovalRequest)
            .where(ApprovalRequest.entity_key == entity_key, ApprovalRequest.record_id == record_id)
            .order_by(ApprovalRequest.id.desc())
            .limit(limit)
        )
    )
    out = [
        TimelineEntry(r.created_at, "approval", r.requested_by,
                      subject=_("asked for approval: “%(rule)s”", rule=r.rule_name))
        for r in reqs
    ]  # fmt: skip
    by_id = {r.id: r for r in reqs}
    decisions = db.session.scalars(
        select(ApprovalDecision)
        .where(ApprovalDecision.request_id.in_(list(by_id)))
        .order_by(ApprovalDecision.id.desc())
    )
    for d in decisions if by_id else ():
        name = by_id[d.request_id].rule_name
        words = (
            _("approved “%(rule)s” (step %(step)d)", rule=name, step=d.step)
            if d.decision == APPROVE
            else _("rejected “%(rule)s”", rule=name)
        )
        out.append(TimelineEntry(d.at, "approval", d.user_id, subject=words, body=d.comment))
    return out


def banner(spec: EntitySpec, record_id: int) -> list[tuple[ApprovalRequest, str]]:
    """``(request, "Waiting for approval (step 1 of 2: Manager)")`` of each pending request
    of a record the caller has read."""
    return [(r, waiting_words(r)) for r in waiting_on(spec, record_id)]
