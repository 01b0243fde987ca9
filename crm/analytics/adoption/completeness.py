"""Data completeness: fill rate per field per entity, records without owner or without
any activity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, not_, select

from crm.access import policy
from crm.activities.models import Activity
from crm.analytics.adoption.period import _readable
from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.records.query import scoped, table_of

# --- data completeness ------------------------------------------------------------------


@dataclass
class Completeness:
    spec: EntitySpec
    records: int
    fill: list[tuple[Any, int]]  # (field spec, records with a value)
    without_owner: int
    without_activity: int

    def rate(self, n: int) -> float:
        return n / self.records if self.records else 0.0


def completeness(reader: Any) -> list[Completeness]:
    """Per entity the reader may read: fill count of every field they may read (one
    statement: ``COUNT(column)`` each), records without owner; and records without any
    activity (a second statement)."""
    out = []
    for spec in _readable(reader):
        table = table_of(spec)
        fields = [
            f
            for f in policy.visible_fields(reader, spec, "read")
            if f.key in table.c and not f.archived
        ]
        columns = [func.count().label("n"), func.count(table.c.owner_id).label("owned")]
        columns += [func.count(table.c[f.key]) for f in fields]
        row = db.session.execute(scoped(reader, spec, "read", columns=columns)).one()
        n, owned, counts = int(row[0]), int(row[1]), row[2:]
        has_activity = (
            select(literal(1))
            .where(Activity.entity_key == spec.key, Activity.record_id == table.c.id)
            .exists()
        )
        without_activity = db.session.scalar(
            scoped(reader, spec, "read", columns=[func.count()]).where(not_(has_activity))
        )
        out.append(
            Completeness(
                spec,
                n,
                [(f, int(c or 0)) for f, c in zip(fields, counts, strict=True)],
                n - owned,
                int(without_activity or 0),
            )
        )
    return out
