"""The reclaim sweep: records nobody works go back to their pool, their owners warned first.

For each enabled pool and each of its rules that is on, ONE query finds the records due or
nearly due: owned by someone in the pool's claim audience (everyone when it has none), not
protected, and whose latest sign of work is older than the rule allows, less the warning
days. "Latest sign of work" is the later of when the owner got the record (created it, was
assigned it, claimed it) and the rule's event: a logged activity, a stage move, a move into
a won stage. Those past the rule return (in batches, one transaction each); those within
the warning days have their owner warned once per day of return. A periodic Huey task runs
it (``register``); tests call ``sweep`` with a frozen clock.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Table, func, or_, select

from crm import timeutil
from crm.access.models import Department, User, user_roles
from crm.activities.models import Activity
from crm.extensions import db
from crm.i18n import pick
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.pipelines.models import StageMove, StageRow
from crm.pools import service
from crm.pools import spec as pool_specs
from crm.pools.models import PoolClaim, PoolWarning
from crm.pools.spec import PoolSpec
from crm.records.models import RecordHistory
from crm.records.query import table_of
from crm.uow import unit_of_work

log = logging.getLogger(__name__)
BATCH = 500


def _latest(dialect: str, *values: ColumnElement) -> ColumnElement:
    # SQLite's many-argument max() is scalar (and NULL if any argument is: callers
    # coalesce); PostgreSQL calls it greatest().
    return func.greatest(*values) if dialect == "postgresql" else func.max(*values)


def _last(column: ColumnElement, *where: ColumnElement, fallback: ColumnElement) -> ColumnElement:
    return func.coalesce(select(func.max(column)).where(*where).scalar_subquery(), fallback)


def since_expression(spec: EntitySpec, table: Table, reason: str, dialect: str) -> ColumnElement:
    """SQL: the moment the clock of rule ``reason`` runs from, for each record of ``table``."""
    created = table.c.created_at
    got = [
        created,
        _last(
            RecordHistory.at,
            RecordHistory.entity_key == spec.key,
            RecordHistory.record_id == table.c.id,
            RecordHistory.action == "assign",
            fallback=created,
        ),
        _last(
            PoolClaim.at,
            PoolClaim.entity_key == spec.key,
            PoolClaim.record_id == table.c.id,
            fallback=created,
        ),
    ]
    if reason == "no_activity":
        event = _last(
            Activity.happened_at,
            Activity.entity_key == spec.key,
            Activity.record_id == table.c.id,
            fallback=created,
        )
    else:
        moves = [StageMove.entity_key == spec.key, StageMove.record_id == table.c.id]
        if reason == "no_won":
            won = select(StageRow.key).where(
                StageRow.entity_key == spec.key, StageRow.category == "won"
            )
            moves.append(StageMove.to_stage.in_(won.scalar_subquery()))
        event = _last(StageMove.at, *moves, fallback=created)
    return _latest(dialect, *got, event)


def _owners(pool: PoolSpec) -> ColumnElement | None:
    """SQL: the owner is in the pool's claim audience (None: everyone is)."""
    if not pool.claim_roles and not pool.claim_departments:
        return None
    users = User.__table__.c
    conditions = []
    if pool.claim_roles:
        conditions.append(
            users.id.in_(
                select(user_roles.c.user_id).where(user_roles.c.role_id.in_(pool.claim_roles))
            )
        )
    if pool.claim_departments:
        paths = select(Department.path).where(Department.id.in_(pool.claim_departments))
        conditions.append(
            users.department_id.in_(
                select(Department.id).where(
                    or_(*(Department.path.startswith(p) for p in db.session.scalars(paths)))
                )
            )
        )
    return select(users.id).where(or_(*conditions)).scalar_subquery()


def candidates(spec: EntitySpec, pool: PoolSpec, reason: str, days: int, now: datetime) -> list:
    """The records due under one rule, or due within the pool's warning days: rows of
    ``id``, ``owner_id``, ``version`` and ``since`` (one query)."""
    table = table_of(spec)
    dialect = db.session.get_bind().dialect.name
    since = since_expression(spec, table, reason, dialect).label("since")
    horizon = now - timedelta(days=max(days - max(pool.warn_days, 0), 0))
    query = select(table.c.id, table.c.owner_id, table.c.version, since).where(
        table.c.deleted_at.is_(None), table.c.owner_id.is_not(None), since < horizon
    )
    owners = _owners(pool)
    if owners is not None:
        query = query.where(table.c.owner_id.in_(owners))
    if pool.protected_field and spec.field(pool.protected_field) is not None:
        flag = table.c[pool.protected_field]
        query = query.where(or_(flag.is_(None), flag.is_(False)))
    return list(db.session.execute(query.order_by(table.c.id)).mappings())


def _as_naive(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite's max() of timestamps gives their text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=None) if value.tzinfo is not None else value


def _warn(spec: EntitySpec, pool: PoolSpec, rows: list, days: int, now: datetime) -> int:
    from crm.notifications.service import notify

    if not rows:
        return 0
    ids = [r["id"] for r in rows]
    seen = set(
        db.session.execute(
            select(PoolWarning.record_id, PoolWarning.owner_id, PoolWarning.due).where(
                PoolWarning.entity_key == spec.key, PoolWarning.record_id.in_(ids)
            )
        ).tuples()
    )
    table = table_of(spec)
    warned = 0
    with unit_of_work():
        for r in rows:
            due = (_as_naive(r["since"]) + timedelta(days=days)).date()
            if (r["id"], r["owner_id"], due) in seen:
                continue
            db.session.add(
                PoolWarning(
                    entity_key=spec.key, record_id=r["id"], owner_id=r["owner_id"], due=due, at=now
                )
            )
            row = db.session.execute(select(table).where(table.c.id == r["id"])).mappings().one()
            notify(
                [r["owner_id"]],
                kind="pool_warning",
                title=lambda: _("{{ record_name }} returns to the pool soon"),
                body=partial(_warning_words, pool, due),
                spec=spec,
                row=row,
            )
            warned += 1
    return warned


def _warning_words(pool: PoolSpec, due: date) -> str:
    """The warning's body in the language in force (the owner's): the pool's name in it
    (braces made plain: the body is a message template) and the day, as people write it."""
    name = pick(pool.name, pool.translations, str(get_locale()))
    return _(
        "Unless it is worked on, it returns to %(pool)s on %(date)s.",
        pool=name.replace("{", "(").replace("}", ")"),
        date=format_date(due, "medium"),
    )


def sweep_pool(spec: EntitySpec, pool: PoolSpec, now: datetime) -> dict[str, int]:
    """Apply ``pool``'s rules once at ``now``: returns how many returned and were warned."""
    returned = warned = 0
    for reason, days in pool.rules:
        rows = candidates(spec, pool, reason, days, now)
        cutoff = now - timedelta(days=days)
        due = [r for r in rows if _as_naive(r["since"]) < cutoff]
        soon = [r for r in rows if _as_naive(r["since"]) >= cutoff]
        for start in range(0, len(due), BATCH):
            with unit_of_work():
                returned += service.put_in_pool(spec, pool, due[start : start + BATCH], reason)
        if pool.warn_days > 0:
            warned += _warn(spec, pool, soon, days, now)
    return {"returned": returned, "warned": warned}


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Run every enabled pool's reclaim rules once; returns the totals."""
    now = now or timeutil.utcnow()
    totals = {"returned": 0, "warned": 0}
    entities: Mapping[str, EntitySpec] = specs.current().entities
    for key in sorted(entities):
        spec = entities[key]
        for pool in pool_specs.pools_of(key):
            if not pool.rules:
                continue
            done = sweep_pool(spec, pool, now)
            for k, v in done.items():
                totals[k] += v
    return totals
