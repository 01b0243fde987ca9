"""The pool scope of the access policy: a record in a pool is readable by whoever sees the
pool (``crm.access.policy`` asks for it where pools widen reading, as shares do)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, select


def in_pools(entity_key: str, pool_ids: tuple[int, ...]):
    """SQL: ``SELECT record_id`` of the records of ``entity_key`` in the pools ``pool_ids``."""
    from crm.pools.models import PoolEntry

    entries = PoolEntry.__table__.c  # Core columns: no ORM compile step on every list
    return select(entries.record_id).where(
        entries.entity_key == entity_key, entries.pool_id.in_(pool_ids)
    )


def condition(entity_key: str, pool_ids: tuple[int, ...], table: Table) -> ColumnElement:
    """SQL: the record of ``table`` (``entity_key``'s) is in one of the pools ``pool_ids``
    (and has no owner: a pool's records have none)."""
    return table.c.owner_id.is_(None) & table.c.id.in_(
        in_pools(entity_key, pool_ids).scalar_subquery()
    )
