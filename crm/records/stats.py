"""Record counts for overviews (designer home, list headers).

An exact ``count(*)`` over a very large table costs more than the page around it, so above
``EXACT_LIMIT`` PostgreSQL's planner estimate is used and the number is marked approximate.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

from crm.extensions import db
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.metadata.types.l10n import current

EXACT_LIMIT = 200_000


@dataclass(frozen=True)
class Count:
    value: int
    approximate: bool = False

    def __str__(self) -> str:
        shown = current().number(self.value)  # 12,345 / 12.345, as the user's language
        return f"≈ {shown}" if self.approximate else shown


def live_records(spec: EntitySpec) -> Count:
    """How many records of ``spec`` are not in the recycle bin (estimated when huge)."""
    table = specs.current().table(spec.key)
    bind = db.session.get_bind()
    if bind.dialect.name == "postgresql":
        estimate = db.session.scalar(
            text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:t)"),
            {"t": table.name},
        )
        if estimate is not None and estimate > EXACT_LIMIT:
            return Count(int(estimate), approximate=True)
    exact = db.session.scalar(
        select(func.count()).select_from(table).where(table.c.deleted_at.is_(None))
    )
    return Count(int(exact or 0))
