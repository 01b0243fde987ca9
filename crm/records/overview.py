"""The home page's overview of one entity for one person: how many records they may read
(capped like list counts) and their recent records (changed by them or owned by them,
latest change first), all through the scoped query layer.

Until the reports issue builds the real home page, this is what the home page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.records.listing import COUNT_CAP
from crm.records.present import record_name
from crm.records.query import scoped, table_of

RECENT = 5


@dataclass(frozen=True)
class Recent:
    id: int
    name: str
    updated_at: Any


@dataclass(frozen=True)
class Overview:
    spec: EntitySpec
    count: int
    capped: bool  # more than ``count``
    recent: list[Recent]


def overview(user: Any, spec: EntitySpec) -> Overview:
    """``spec``'s records as ``user`` may read them: a capped count and the ``RECENT``
    latest changed by or owned by them. Callers check the read right first (an entity
    they may not read gives a zero count and nothing recent, never an error)."""
    table = table_of(spec)
    inner = scoped(user, spec, "read", columns=[table.c.id]).limit(COUNT_CAP + 1).subquery()
    n = int(db.session.scalar(select(func.count()).select_from(inner)) or 0)
    columns = [table.c.id, table.c.updated_at, table.c.owner_id]
    if spec.name_field and spec.field(spec.name_field) is not None:
        columns.append(table.c[spec.name_field])
    rows = db.session.execute(
        scoped(user, spec, "read", columns=columns)
        .where(or_(table.c.updated_by == user.id, table.c.owner_id == user.id))
        .order_by(table.c.updated_at.desc(), table.c.id.desc())
        .limit(RECENT)
    ).mappings()
    recent = [Recent(r["id"], record_name(spec, r, user), r["updated_at"]) for r in rows]
    return Overview(spec, min(n, COUNT_CAP), n > COUNT_CAP, recent)
