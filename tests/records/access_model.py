"""Helpers for the sharing and "who can see" tests: departments, roles, snapshots of what
a refused write must leave untouched."""

from __future__ import annotations

from sqlalchemy import select

from crm.access import policy
from crm.access.models import Department, RecordShare, Role, RoleGrant
from crm.extensions import db
from crm.records.models import RecordHistory
from tests.records.runtime_model import stored


def department(name: str, parent: Department | None = None) -> Department:
    """A department under ``parent``, with its materialized path ("/1/4/")."""
    d = Department(name=name, parent_id=parent.id if parent else None, path="/")
    db.session.add(d)
    db.session.flush()
    d.path = f"{parent.path if parent else '/'}{d.id}/"
    db.session.commit()
    return d


def role(name: str, levels: dict[str, int], *, entity: str = "*", **flags) -> Role:
    """A role giving ``levels`` (action -> policy level) on ``entity``."""
    r = Role(name=name, description="", **flags)
    db.session.add(r)
    db.session.flush()
    for action, level in levels.items():
        db.session.add(RoleGrant(role_id=r.id, entity_key=entity, action=action, level=level))
    db.session.commit()
    policy.forget()
    return r


def shares(key: str = "account") -> list[tuple]:
    """Every share of ``key`` as plain tuples."""
    db.session.rollback()
    return [
        (s.id, s.record_id, s.user_id, s.department_id, s.access, s.created_by, s.created_at)
        for s in db.session.scalars(
            select(RecordShare).where(RecordShare.entity_key == key).order_by(RecordShare.id)
        )
    ]


def history(key: str, record_id: int) -> list[tuple]:
    db.session.rollback()
    return [
        (h.id, h.action, h.user_id, h.changes)
        for h in db.session.scalars(
            select(RecordHistory)
            .where(RecordHistory.entity_key == key, RecordHistory.record_id == record_id)
            .order_by(RecordHistory.id)
        )
    ]


def snapshot(key: str, record_id: int) -> tuple:
    """The record's stored row (every column, as the database returns it), its shares and
    its history: what a refused or invalid write must leave exactly as it was."""
    return (dict(stored(key, record_id)), shares(key), history(key, record_id))
