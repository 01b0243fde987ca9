"""The usage table: one row per person, day and area (an entity and a kind of action, with
an optional detail such as the list view or pipeline used), holding a counter.

Written once per request at most (``crm.analytics.usage``), read by the adoption
evaluation (``crm.analytics.adoption``). Never per click: a person opening the same list
forty times a day is one row whose ``count`` is 40."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db


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
