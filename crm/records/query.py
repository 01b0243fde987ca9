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


def scoped_branches(
    user: Any, spec: EntitySpec, action: str = "read", *, columns=None
) -> tuple[Select, ...]:
    """``scoped`` (live records) as disjoint ``SELECT``s whose union is the same records
    (``policy.scope_branches``): one, or, when shares widen the user's scope, the scope's
    own records and the shared ones it does not reach. A list reads each in index order
    and merges them (``crm.records.listing``)."""
    table = table_of(spec)
    out = []
    for branch in policy.scope_branches(user, spec, action, table):
        query = select(*(columns if columns is not None else [table]))
        if columns is not None:
            query = query.select_from(table)
        out.append(query.where(table.c.deleted_at.is_(None), branch))
    return tuple(out)


def seeded(spec: EntitySpec, ids) -> Select:
    """``SELECT`` of ``spec``'s records with these ``ids``, live or in the recycle bin,
    whoever asks: only for a configuration package's own seed records
    (``crm.packages.seed``), which administrators plan, apply and export as part of the
    configuration. Never for what a person is shown."""
    table = table_of(spec)
    return select(table).where(table.c.id.in_(list(ids)))
