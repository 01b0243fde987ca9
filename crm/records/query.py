"""The scoped query layer: every query of records starts here, never from a bare table.

It applies the access policy's ``scope`` and hides the recycle bin, so no list, record
page, lookup, export or count can forget either.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, select

from crm.access import policy
from crm.metadata import specs
from crm.metadata.spec import EntitySpec


def table_of(spec: EntitySpec) -> Table:
    return specs.current().table(spec.key)


def scoped(
    user: Any, spec: EntitySpec, action: str = "read", *, deleted: bool = False, columns=None
) -> Select:
    """``SELECT`` of ``spec``'s records that ``user`` may ``action``: live ones, or with
    ``deleted=True`` those in the recycle bin."""
    table = table_of(spec)
    query = select(*(columns if columns is not None else [table]))
    if columns is not None:
        query = query.select_from(table)
    condition = table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)
    return query.where(condition, policy.scope(user, spec, action, table))
