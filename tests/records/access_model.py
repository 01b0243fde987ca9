"""Helpers for the sharing and "who can see" tests: snapshots of what a refused write must
leave untouched (departments and roles come from ``tests.factories``)."""

from __future__ import annotations

from sqlalchemy import select

from crm.access.models import RecordShare
from crm.extensions import db
from crm.records.models import RecordHistory
from tests.factories import stored


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
