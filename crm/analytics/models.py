"""System tables of pipeline analytics: sales targets per person and month, and
dashboards with their tiles (migration 0038)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
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
