"""Claiming records from a pool and returning records to one.

Claiming is race-safe without locks held across requests: one transaction whose first
statement takes the claimer's counter row for the pool and the day (a conditional
``UPDATE ... WHERE claimed < limit``: on PostgreSQL the row lock serialises one person's
claims from one pool, on SQLite the write lock serialises every writer), then counts what
the claimer holds (a fresh read after that lock, so a parallel claim already counted is
seen), then takes the record with a conditional ``UPDATE ... WHERE owner_id IS NULL`` and
still in the pool: of two people claiming one record at once exactly one gets it, the other
is told. Any refusal rolls the whole transaction back, the counter with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, select, update

from crm import timeutil
from crm.access import policy
from crm.binds import assign
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.i18n import company_timezone
from crm.ids import as_id
from crm.metadata.spec import EntitySpec
from crm.pools import history
from crm.pools import spec as pool_specs
from crm.pools.models import MANUAL, REASONS, PoolClaim, PoolClaimCount, PoolEntry, PoolWarning
from crm.pools.spec import PoolSpec
from crm.records import service as records
from crm.records.query import scoped, table_of
from crm.uow import unit_of_work

MAX_ID = 2**31 - 1
MAX_NOTE = 500
MAX_BULK = 500


@dataclass(frozen=True)
class Membership:
    """A record's place in a pool: which pool, since when, and whether the reader may
    claim it (``claimable``) or why not (``refusal``)."""

    pool: PoolSpec
    entered_at: datetime
    reason: str
    note: str
    claimable: bool
    refusal: str = ""


def _now() -> datetime:
    return timeutil.utcnow()  # read through the module: tests freeze it


def today(now: datetime | None = None):
    """The calendar day claims are counted by: the company's day."""
    return timeutil.local_today(company_timezone(), now or _now())


def _record_id(value: Any) -> int:
    number = as_id(value)
    if number is None or number > MAX_ID:
        raise ValidationFailed(
            _("That record reference is not valid: use the link or choice offered."),
            errors={"record_id": [_("Not a valid record.")]},
        )
    return number


def entry_of(spec: EntitySpec, record_id: int) -> PoolEntry | None:
    """The pool entry of the record, if it is in a pool."""
    return db.session.scalar(
        select(PoolEntry).where(PoolEntry.entity_key == spec.key, PoolEntry.record_id == record_id)
    )


def _protected(spec: EntitySpec, pool: PoolSpec, row: Mapping[str, Any]) -> bool:
    key = pool.protected_field
    return bool(key and spec.field(key) is not None and key in row and row[key])


def claimed_today(user: Any, pool: PoolSpec, now: datetime | None = None) -> int:
    """How many records ``user`` claimed from ``pool`` today."""
    return int(
        db.session.scalar(
            select(PoolClaimCount.claimed).where(
                PoolClaimCount.pool_id == pool.id,
                PoolClaimCount.user_id == user.id,
                PoolClaimCount.day == today(now),
            )
        )
        or 0
    )


def remaining_today(user: Any, pool: PoolSpec, now: datetime | None = None) -> int | None:
    """How many more records ``user`` may claim from ``pool`` today (None: no limit)."""
    if pool.daily_limit <= 0:
        return None
    return max(0, pool.daily_limit - claimed_today(user, pool, now))


def _cooldown_ends(pool: PoolSpec, entry: Any, user_id: int) -> datetime | None:
    if pool.cooldown_days <= 0 or entry.previous_owner_id != user_id:
        return None
    ends = entry.entered_at + timedelta(days=pool.cooldown_days)
    return ends if ends > _now() else None


def membership(user: Any, spec: EntitySpec, row: Mapping[str, Any]) -> Membership | None:
    """The pool the record ``row`` (already read by ``user``) is in, or None."""
    if row.get("owner_id") is not None:
        return None
    entry = entry_of(spec, row["id"])
    pool = pool_specs.by_id(entry.pool_id) if entry is not None else None
    if pool is None or not pool.enabled:
        return None
    refusal = _refusal(user, spec, pool, row, entry)
    return Membership(pool, entry.entered_at, entry.reason, entry.note, not refusal, refusal)


def _refusal(user: Any, spec: EntitySpec, pool: PoolSpec, row: Mapping, entry: Any) -> str:
    """Why ``user`` may not claim the record (""; they may), before counting anything."""
    if not pool_specs.may_claim(pool, policy.rights(user)):
        return _("You may not claim records from this pool.")
    if _protected(spec, pool, row):
        return _("This record is protected: it cannot be claimed.")
    ends = _cooldown_ends(pool, entry, user.id)
    if ends is not None:
        return _(
            "You returned this record recently: you may claim it again from %(date)s.",
            date=format_date(ends),
        )
    return ""


def claim(user: Any, spec: EntitySpec, record_id: Any) -> int:
    """Make ``user`` the owner of a record in a pool they may claim from; returns the
    record's new version.

    Raises ``NotFound`` (not a record they may read), ``Forbidden`` (not theirs to claim),
    ``Conflict`` (it has an owner, someone claimed it first, it is protected, the
    cool-down runs, the day's limit or the holding cap is reached). A refusal changes
    nothing."""
    record_id = _record_id(record_id)
    row = records.get(user, spec, record_id)
    if row["owner_id"] is not None:
        raise Conflict(_("This record has an owner: only records in a pool can be claimed."))
    entry = entry_of(spec, record_id)
    pool = pool_specs.by_id(entry.pool_id) if entry is not None else None
    if pool is None or not pool.enabled:
        if entry is None and _owner_now(spec, record_id) is not None:
            # claimed between our two reads: the race was lost, say so
            raise Conflict(_("Someone else claimed this record just now."))
        raise Conflict(_("This record is not in a pool."))
    refusal = _refusal(user, spec, pool, row, entry)
    if refusal:
        cls = Forbidden if not pool_specs.may_claim(pool, policy.rights(user)) else Conflict
        raise cls(refusal)
    user_id, pool_id, day, now = int(user.id), pool.id, today(), _now()
    table = table_of(spec)
    with unit_of_work(fresh=True, clean=True):
        # First statement: the counter row (the lock that serialises this person's claims).
        _count_claim(pool, user_id, day)
        if pool.holding_cap > 0:
            held = db.session.scalar(
                select(func.count())
                .select_from(table)
                .where(table.c.owner_id == user_id, table.c.deleted_at.is_(None))
            )
            if int(held or 0) >= pool.holding_cap:
                raise Conflict(
                    ngettext(
                        "You already hold %(num)d record, as many as this pool allows.",
                        "You already hold %(num)d records, as many as this pool allows.",
                        pool.holding_cap,
                    )
                )
        in_pool = (
            select(PoolEntry.id)
            .where(
                PoolEntry.entity_key == spec.key,
                PoolEntry.record_id == record_id,
                PoolEntry.pool_id == pool_id,
            )
            .exists()
        )
        result = db.session.execute(
            update(table)
            .where(
                table.c.id == record_id,
                table.c.owner_id.is_(None),
                table.c.deleted_at.is_(None),
                in_pool,
            )
            .values(
                assign(
                    table,
                    owner_id=user_id,
                    version=table.c.version + 1,
                    updated_at=now,
                    updated_by=user_id,
                )
            )
        )
        if result.rowcount != 1:
            raise Conflict(_("Someone else claimed this record just now."))
        db.session.execute(
            delete(PoolEntry).where(
                PoolEntry.entity_key == spec.key, PoolEntry.record_id == record_id
            )
        )
        db.session.add(
            PoolClaim(
                pool_id=pool_id, user_id=user_id, entity_key=spec.key, record_id=record_id, at=now
            )
        )
        records.add_history(
            spec, record_id, user, history.CLAIM,
            history.changes(None, user_id, pool_id), version=row["version"] + 1,
        )  # fmt: skip
    return row["version"] + 1


def _owner_now(spec: EntitySpec, record_id: int) -> int | None:
    table = table_of(spec)
    # a fresh transaction: another claim may have committed since our reads began
    with unit_of_work(fresh=True, clean=True):
        return db.session.scalar(select(table.c.owner_id).where(table.c.id == record_id))


def _count_claim(pool: PoolSpec, user_id: int, day) -> None:
    """Count one claim for today, refusing (``Conflict``) beyond the pool's daily limit."""
    counts = PoolClaimCount.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    db.session.execute(
        upsert(counts)
        .values(pool_id=pool.id, user_id=user_id, day=day, claimed=0)
        .on_conflict_do_nothing()
    )
    statement = (
        update(counts)
        .where(counts.c.pool_id == pool.id, counts.c.user_id == user_id, counts.c.day == day)
        .values(claimed=counts.c.claimed + 1)
    )
    if pool.daily_limit > 0:
        statement = statement.where(counts.c.claimed < pool.daily_limit)
    if db.session.execute(statement).rowcount != 1:
        raise Conflict(
            ngettext(
                "You have claimed %(num)d record from this pool today, the most allowed.",
                "You have claimed %(num)d records from this pool today, the most allowed.",
                pool.daily_limit,
            )
        )


def _pool_for_return(spec: EntitySpec, pool_key: Any) -> PoolSpec:
    pools = pool_specs.pools_of(spec.key)
    if not pools:
        raise NotFound(_("This entity has no pool."))
    if not pool_key and len(pools) == 1:
        return pools[0]
    pool = pool_specs.by_key(spec.key, str(pool_key or "")[:41])
    if pool is None:
        raise ValidationFailed(
            _("Choose the pool to return the records to."),
            errors={"pool": [_("Choose a pool.")]},
        )
    return pool


def return_to_pool(
    user: Any, spec: EntitySpec, record_ids: Iterable[Any], *, pool_key: Any = None, note: Any = ""
) -> int:
    """Return records to a pool by hand (a manager: the assign right on each), with the
    reason in ``note``; returns how many. All or nothing: ``ValidationFailed`` for bad ids,
    no reason, a record without an owner, or a protected one; ``NotFound`` when one is not
    theirs to assign."""
    raw = list(record_ids)
    if not raw:
        raise ValidationFailed(_("Choose the records to return."), errors={"ids": [_("None.")]})
    if len(raw) > MAX_BULK:
        raise ValidationFailed(
            _("Return at most %(num)d records at a time.", num=MAX_BULK),
            errors={"ids": [_("Too many.")]},
        )
    ids = sorted({_record_id(v) for v in raw})
    text = str(note or "").strip()
    if not text:
        raise ValidationFailed(
            _("Say why the records go back to the pool."), errors={"note": [_("Required.")]}
        )
    if len(text) > MAX_NOTE:
        raise ValidationFailed(
            _("Keep the reason under %(num)d characters.", num=MAX_NOTE),
            errors={"note": [_("Too long.")]},
        )
    pool = _pool_for_return(spec, pool_key)
    table = table_of(spec)
    rows = list(
        db.session.execute(scoped(user, spec, "assign").where(table.c.id.in_(ids))).mappings()
    )
    if len(rows) != len(ids):
        raise NotFound(_("Some of these records are not yours to return."))
    problems = [
        _("%(id)s has no owner.", id=r["id"]) for r in rows if r["owner_id"] is None
    ] + [
        _("%(id)s is protected.", id=r["id"]) for r in rows if _protected(spec, pool, r)
    ]  # fmt: skip
    if problems:
        raise ValidationFailed(" ".join(problems), errors={"ids": problems})
    with unit_of_work():
        returned = put_in_pool(spec, pool, rows, MANUAL, text, actor=user)
    if returned != len(rows):
        raise Conflict(_("Someone changed these records just now; nothing was returned."))
    return returned


def put_in_pool(
    spec: EntitySpec,
    pool: PoolSpec,
    rows: Iterable[Mapping[str, Any]],
    reason: str,
    note: str = "",
    *,
    actor: Any = None,
) -> int:
    """Inside the caller's unit of work: take each record of ``rows`` (mappings with ``id``,
    ``owner_id`` and ``version``) from its owner, if it still has that owner, and put it in
    ``pool`` with ``reason``; returns how many moved. A record whose owner changed since it
    was read is left alone."""
    if reason not in REASONS:
        raise ValueError(f"Unknown reason {reason!r}")
    table = table_of(spec)
    now = _now()
    actor_id = getattr(actor, "id", None)
    moved = 0
    for r in rows:
        result = db.session.execute(
            update(table)
            .where(
                table.c.id == r["id"],
                table.c.owner_id == r["owner_id"],
                table.c.deleted_at.is_(None),
            )
            .values(
                assign(
                    table,
                    owner_id=None,
                    version=table.c.version + 1,
                    updated_at=now,
                    updated_by=actor_id,
                )
            )
        )
        if result.rowcount != 1:
            continue
        db.session.execute(
            insert(PoolEntry).values(
                pool_id=pool.id, entity_key=spec.key, record_id=r["id"], entered_at=now,
                previous_owner_id=r["owner_id"], reason=reason, note=note[:MAX_NOTE],
            )
        )  # fmt: skip
        db.session.execute(
            delete(PoolWarning).where(
                PoolWarning.entity_key == spec.key, PoolWarning.record_id == r["id"]
            )
        )
        records.add_history(
            spec, r["id"], actor, history.ENTER,
            history.changes(r["owner_id"], None, pool.id, reason, note[:MAX_NOTE]),
        )  # fmt: skip
        moved += 1
    return moved


def held(user: Any, spec: EntitySpec) -> int:
    """How many live records of ``spec`` ``user`` owns (what a pool's holding cap counts)."""
    table = table_of(spec)
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(table)
            .where(table.c.owner_id == int(user.id), table.c.deleted_at.is_(None))
        )
        or 0
    )


@dataclass(frozen=True)
class Quota:
    """What a person may still take from a pool: claims left today (None: no daily limit),
    records held and the pool's cap on them (None: no cap)."""

    remaining: int | None
    held: int
    cap: int | None

    @property
    def room(self) -> int | None:
        """How many more they may claim now (None: unlimited)."""
        bounds = [] if self.remaining is None else [self.remaining]
        if self.cap is not None:
            bounds.append(max(0, self.cap - self.held))
        return min(bounds) if bounds else None


def quota(user: Any, spec: EntitySpec, pool: PoolSpec, now: datetime | None = None) -> Quota:
    """``user``'s quota in ``pool`` today."""
    return Quota(
        remaining_today(user, pool, now),
        held(user, spec) if pool.holding_cap > 0 else 0,
        pool.holding_cap or None,
    )


@dataclass(frozen=True)
class Outcome:
    """One record of a bulk claim: claimed, or why not."""

    record_id: int
    claimed: bool
    message: str = ""


def claim_many(user: Any, spec: EntitySpec, pool_key: Any, record_ids: Iterable[Any]) -> list:
    """Claim the ticked records of one pool, each in its own race-safe claim (``claim``);
    returns an ``Outcome`` per record. Refuses the whole selection up front
    (``ValidationFailed``) when it is empty, too large, not numbers, or more than the
    person's quota allows today: then nothing is claimed. A record someone else takes
    meanwhile is reported, not fatal."""
    pool = pool_specs.by_key(spec.key, str(pool_key or "")[:41])
    if pool is None or not pool_specs.may_see(pool, policy.rights(user)):
        raise NotFound(_("There is no such pool."))
    if not pool_specs.may_claim(pool, policy.rights(user)):
        raise Forbidden(_("You may not claim records from this pool."))
    raw = list(record_ids)
    if not raw:
        raise ValidationFailed(_("Choose the records to claim."), errors={"ids": [_("None.")]})
    if len(raw) > MAX_BULK:
        raise ValidationFailed(
            _("Claim at most %(num)d records at a time.", num=MAX_BULK),
            errors={"ids": [_("Too many.")]},
        )
    ids = sorted({_record_id(v) for v in raw})
    room = quota(user, spec, pool).room
    if room is not None and len(ids) > room:
        raise ValidationFailed(
            ngettext(
                "You may claim %(num)d more record now: tick fewer.",
                "You may claim %(num)d more records now: tick fewer.",
                room,
            ),
            errors={"ids": [_("Too many.")]},
        )
    out = []
    for record_id in ids:
        try:
            claim(user, spec, record_id)
        except NotFound:
            out.append(Outcome(record_id, False, _("This record is no longer in the pool.")))
        except (Conflict, Forbidden) as exc:
            out.append(Outcome(record_id, False, exc.message))
        else:
            out.append(Outcome(record_id, True))
    return out
