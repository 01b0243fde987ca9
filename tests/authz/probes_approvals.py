"""Probes of approval requests (crm/approvals): on the record in each position, a request
the actor approves at its first step (they are its approver, whatever their right on the
record: an approver may decide without reading it), and one they have no part in (only an
administrator may see and reject it). The request page, the list and the decisions; the
scanner checks that a request shows no value of a record the actor may not read."""

from __future__ import annotations

from sqlalchemy import delete, select

from crm.approvals.models import ApprovalRequest
from crm.extensions import db
from crm.timeutil import utcnow
from tests.authz import oracle
from tests.authz.harness import Run
from tests.authz.probes_lists import positions


def _request(run: Run, rec, steps: list) -> int:
    """A pending request by "spare" holding the record's amount (as it is: the page shows
    it as "now" and "asked for", where the actor may read it)."""
    req = ApprovalRequest(
        rule_id=None, rule_name="Probe rule", steps=steps, entity_key=rec.entity,
        record_id=rec.id, changes={"amount": rec.amount}, before={"amount": rec.amount},
        requested_by=run.world.user_id("spare"), status="pending", step=1,
        created_at=utcnow(),
    )  # fmt: skip
    db.session.add(req)
    db.session.commit()
    return req.id


def _state(request_id: int) -> tuple:
    db.session.rollback()
    row = db.session.execute(
        select(ApprovalRequest.status, ApprovalRequest.step).where(ApprovalRequest.id == request_id)
    ).first()
    return tuple(row) if row else ()


def probe_approvals(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    spare = w.user_id("spare")
    admin = oracle.is_admin(a)
    for position, rec in positions(run, entity):
        mine = _request(run, rec, [{"user": w.user_id(a)}, {"user": spare}])
        other = _request(run, rec, [{"user": spare}])
        try:
            listed = run.get("/approvals/")
            if run.read_case("approvals.inbox", entity, position, True, listed):
                body = listed.get_data(as_text=True)
                run.case("approvals.inbox[mine]", entity, position, True,
                         f"/approvals/{mine}" in body)  # fmt: skip
                run.case("approvals.inbox[other]", entity, position, admin,
                         f"/approvals/{other}" in body)  # fmt: skip
            r = run.get(f"/approvals/{mine}")
            run.read_case("approvals.request_page", entity, position, True, r)
            r = run.get(f"/approvals/{other}")
            run.read_case("approvals.request_page[other]", entity, position, admin, r)
            r = run.post(f"/approvals/{mine}/approve", {"comment": "ok"})
            run.write_case(
                "approvals.approve", rec, position, True, r,
                lambda row, i=mine: _state(i) == ("pending", 2),
            )  # fmt: skip
            r = run.post(f"/approvals/{other}/reject", {"comment": "no"})
            run.write_case(
                "approvals.reject", rec, position, admin, r,
                lambda row, i=other: _state(i) == ("rejected", 1),
            )  # fmt: skip
        finally:
            db.session.rollback()
            db.session.execute(delete(ApprovalRequest).where(ApprovalRequest.id.in_([mine, other])))
            db.session.commit()
