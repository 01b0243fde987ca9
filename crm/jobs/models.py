"""System table of background jobs: the outbox rows the job queue runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)


class Job(db.Model):
    """One piece of background work of a ``kind`` (``package.apply``) with its ``payload``.

    Added in the unit of work of the change that causes it (the outbox), so both commit or
    neither; dispatched to the queue after that commit. ``result`` holds what a finished
    job returned, ``error`` what a failed one says (``{"message": ..., "errors": {...}}``).
    Live progress is not here but in the queue's own storage (``crm.jobs.progress``).
    ``run_after``: a job that waits (a retry with back-off) is not dispatched at commit;
    the periodic sweep dispatches it once that moment has passed."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    run_after: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    result: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[Any | None] = mapped_column(JSON)

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED)
