"""System table of saved import mappings: a mapping kept per entity under a name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow


class SavedMapping(db.Model):
    """A mapping (``crm.imports.mapping.Mapping.to_json``) saved for ``entity_key`` under
    ``name``; ``columns`` the file's column names it was made for (folded), by which the
    next file finds it."""

    __tablename__ = "import_mappings"
    __table_args__ = (UniqueConstraint("entity_key", "name", name="uq_import_mappings_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41), index=True)
    name: Mapped[str] = mapped_column(String(100))
    columns: Mapped[Any] = mapped_column(JSON)
    mapping: Mapped[Any] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
