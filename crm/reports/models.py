"""Saved reports: a name (with its translations ``{"name": {locale: text}}``), the
definition as JSON (``definition.ReportDef.to_data``), its owner, and the roles it is
shared with (none: private to its owner)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow


class SavedReport(db.Model):
    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_owner", "owner_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    entity_key: Mapped[str] = mapped_column(String(41))
    definition: Mapped[dict] = mapped_column(JSON)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_reports_owner_id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class ReportShare(db.Model):
    """A saved report shared with everyone holding ``role_id``."""

    __tablename__ = "report_shares"
    __table_args__ = (Index("ix_report_shares_role", "role_id"),)

    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", name="fk_report_shares_report_id", ondelete="CASCADE"),
        primary_key=True,
    )
    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", name="fk_report_shares_role_id", ondelete="CASCADE"),
        primary_key=True,
    )
