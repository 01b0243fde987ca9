"""System tables of customer pools: the pools, the records in them, the claim log and the
per-person-per-day claim counters."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

# Why a record entered a pool (PoolEntry.reason); a manager's own words go in ``note``.
MANUAL, NO_ACTIVITY, NO_STAGE_MOVE, NO_WON = "manual", "no_activity", "no_stage_move", "no_won"
REASONS = (MANUAL, NO_ACTIVITY, NO_STAGE_MOVE, NO_WON)


class Pool(db.Model):
    """One customer pool of an entity: who sees it and who may claim from it (role and
    department ids; empty lists: everyone who may read the entity), the limits, and the
    reclaim rules (0 days: the rule is off)."""

    __tablename__ = "pools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(41), unique=True)
    entity_key: Mapped[str] = mapped_column(String(41), index=True)
    name: Mapped[str] = mapped_column(String(200))
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    see_roles: Mapped[list] = mapped_column(JSON, default=list)
    see_departments: Mapped[list] = mapped_column(JSON, default=list)
    claim_roles: Mapped[list] = mapped_column(JSON, default=list)
    claim_departments: Mapped[list] = mapped_column(JSON, default=list)
    daily_limit: Mapped[int] = mapped_column(Integer, default=0)  # 0: no limit
    holding_cap: Mapped[int] = mapped_column(Integer, default=0)  # 0: no cap
    cooldown_days: Mapped[int] = mapped_column(Integer, default=0)
    no_activity_days: Mapped[int] = mapped_column(Integer, default=0)
    no_stage_move_days: Mapped[int] = mapped_column(Integer, default=0)
    no_won_days: Mapped[int] = mapped_column(Integer, default=0)
    warn_days: Mapped[int] = mapped_column(Integer, default=0)
    # A checkbox field of the entity: records with it ticked never return to the pool.
    protected_field: Mapped[str | None] = mapped_column(String(41))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class PoolEntry(db.Model):
    """A record now in a pool (its ``owner_id`` is NULL): since when, who had it, why."""

    __tablename__ = "pool_entries"
    __table_args__ = (
        UniqueConstraint("entity_key", "record_id", name="uq_pool_entries_record"),
        Index("ix_pool_entries_pool", "pool_id", "entered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pool_id: Mapped[int] = mapped_column(
        ForeignKey("pools.id", name="fk_pool_entries_pool_id_pools", ondelete="CASCADE")
    )
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    entered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    previous_owner_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20), default=MANUAL)
    note: Mapped[str] = mapped_column(Text, default="")


class PoolClaim(db.Model):
    """One claim: who took which record from which pool, when."""

    __tablename__ = "pool_claims"
    __table_args__ = (
        Index("ix_pool_claims_record", "entity_key", "record_id", "at"),
        Index("ix_pool_claims_user", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pool_id: Mapped[int | None] = mapped_column(
        ForeignKey("pools.id", name="fk_pool_claims_pool_id_pools", ondelete="SET NULL")
    )
    user_id: Mapped[int] = mapped_column(Integer)
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PoolClaimCount(db.Model):
    """How many records ``user_id`` claimed from ``pool_id`` on ``day`` (the pool's limit
    is enforced by a conditional update of this row, which also serialises one person's
    claims from one pool)."""

    __tablename__ = "pool_claim_counts"

    pool_id: Mapped[int] = mapped_column(
        ForeignKey("pools.id", name="fk_pool_claim_counts_pool_id_pools", ondelete="CASCADE"),
        primary_key=True,
    )
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    claimed: Mapped[int] = mapped_column(Integer, default=0)


class PoolWarning(db.Model):
    """That the owner of a record was warned that it returns to a pool on ``due`` (once per
    owner and day of return: the sweep runs again and again)."""

    __tablename__ = "pool_warnings"
    __table_args__ = (
        UniqueConstraint("entity_key", "record_id", "owner_id", "due", name="uq_pool_warnings"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    owner_id: Mapped[int] = mapped_column(Integer)
    due: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
