"""Probes of trying an automation rule on a record (/admin/automation/rules/<id>/try):
only those with the configure right reach it; they find and try only records they may
read (any other is a 404, not a result), and a trial changes no record."""

from __future__ import annotations

from sqlalchemy import select

from crm.access.models import User
from crm.automation.models import AutomationRule
from crm.extensions import db
from crm.metadata.versioning import bump_version
from tests.authz import oracle
from tests.authz.harness import Run
from tests.authz.probes_lists import positions

ENTITY = "account"


def trial_rule(world) -> int:
    """A rule on accounts that sets their memo, set off by nothing the matrix does (a
    scheduled rule; only a trial runs it), made once per world."""
    found = getattr(world, "_trial_rule", None)
    if found is None:
        db.session.rollback()
        owner = db.session.scalar(select(User.id).where(User.is_admin).order_by(User.id))
        rule = AutomationRule(
            key="probe_trial", entity_key=ENTITY, name="Probe trial", description="",
            enabled=True, trigger={"type": "held", "what": "no_activity", "days": 36500},
            conditions=[], actions=[{"type": "set", "values": {"memo": "tried"}}], position=0,
            owner_id=owner,
        )  # fmt: skip
        db.session.add(rule)
        db.session.flush()
        bump_version()
        db.session.commit()
        found = world._trial_rule = rule.id
    return found


def probe_rule_try(run: Run) -> None:
    a, w = run.actor, run.world
    rule_id = trial_rule(w)
    allowed = oracle.may_configure(a)
    url = f"/admin/automation/rules/{rule_id}/try"
    run.read_case("automation_try.try_rule[page]", "-", "configure", allowed, run.get(url))
    for position, rec in positions(run, ENTITY):
        readable = allowed and rec.live and oracle.may(a, "read", rec.rec)
        r = run.post(url, {"record_id": str(rec.id)})
        tried = r.status_code == 200 and "tried" in r.data.decode()
        observed = tried if r.status_code in (200, 403, 404) else None
        run.case("automation_try.try_rule", ENTITY, position, readable, observed,
                 f"(HTTP {r.status_code})")  # fmt: skip
        changed = w.diff()
        assert not changed, f"{a}: trying a rule changed records: {changed[:3]}"
    for bad in ("0", "-1", "2147483648", "99999999999999999999", "x"):
        r = run.post(url, {"record_id": bad})
        ok = r.status_code in ((400, 404) if allowed else (403,))
        run.case("automation_try.try_rule[hostile]", ENTITY, bad, True, ok,
                 f"(HTTP {r.status_code})")  # fmt: skip
