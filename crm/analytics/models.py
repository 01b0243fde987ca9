"""System tables of issue 19: sales targets per person and month, dashboards with their
tiles (migration 0038 of the analytics work), and the usage table (``UsageDay``: one row
per person, day and area, holding a counter; written once per request at most by
``crm.analytics.usage``, read by the adoption evaluation; never per click: a person
opening the same list forty times a day is one row whose ``count`` is 40)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow


class Target(db.Model):
    """What one person should close in one month on one entity's pipelines (the amount
    field of the pipeline, summed). ``month`` is the first day of the month."""

    __tablename__ = "analytics_targets"
    __table_args__ = (
        UniqueConstraint("entity_key", "user_id", "month", name="uq_analytics_targets_who_when"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", name="fk_analytics_targets_user_id", ondelete="CASCADE"),
        index=True,
    )
    month: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    set_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_analytics_targets_set_by", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Dashboard(db.Model):
    """A grid of tiles: personal (``user_id``) or for everyone holding a role
    (``role_id``)."""

    __tablename__ = "analytics_dashboards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_analytics_dashboards_user_id", ondelete="CASCADE"),
        index=True,
    )
    role_id: Mapped[int | None] = mapped_column(
        ForeignKey("roles.id", name="fk_analytics_dashboards_role_id", ondelete="CASCADE"),
        index=True,
    )
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_analytics_dashboards_created_by", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Tile(db.Model):
    """One tile of a dashboard: its ``kind`` (an entry of ``crm.analytics.tiles``), its
    settings, and its place in the grid."""

    __tablename__ = "analytics_tiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dashboard_id: Mapped[int] = mapped_column(
        ForeignKey(
            "analytics_dashboards.id", name="fk_analytics_tiles_dashboard_id", ondelete="CASCADE"
        ),
        index=True,
    )
    kind: Mapped[str] = mapped_column(String(30))
    config: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class UsageDay(db.Model):
    """How often ``user_id`` did ``kind`` on ``entity_key`` (``detail``) on ``day`` (UTC)."""

    __tablename__ = "usage_days"
    __table_args__ = (
        UniqueConstraint("day", "user_id", "entity_key", "kind", "detail", name="uq_usage_days"),
        Index("ix_usage_days_user", "user_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", name="fk_usage_days_user_id_users", ondelete="CASCADE")
    )
    entity_key: Mapped[str] = mapped_column(String(41), default="")
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(64), default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
