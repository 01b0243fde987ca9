"""The system table of go-live packs: one run of an ordered set of files.

``steps`` is the plan as it was started, in order: ``[{"target": "@departments" | "@users"
| entity key, "import_id": n, "status": "waiting" | "running" | "done" | "failed" |
"skipped", "message": text}]``. Each step's file, settings and counts are an ``imports``
row (``crm.imports.models.Import``; the organisation's steps use the entity keys
``@departments`` and ``@users``, which no entity can have).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

RUNNING, DONE, FAILED = "running", "done", "failed"


class GoLivePack(db.Model):
    """A pack started by ``user_id``: its steps and how far it went."""

    __tablename__ = "golive_packs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default=RUNNING)
    steps: Mapped[Any] = mapped_column(JSON)
    failed_step: Mapped[str | None] = mapped_column(String(41))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
