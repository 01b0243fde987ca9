"""System tables of tasks and logged activities. Each belongs to one record, named by its
entity key and id (records live in per-entity tables, so there is no foreign key)."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

PRIORITIES = ("low", "normal", "high")
STATUSES = ("open", "done")
KINDS = ("call", "meeting", "email", "visit")
# Reminder choices, in minutes before the due moment (a task without a time is due 09:00).
REMIND_CHOICES = (0, 15, 60, 1440)
DEFAULT_DUE_TIME = time(9, 0)


class Task(db.Model):
    """A planned follow-up on a record, assigned to one user."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_record", "entity_key", "record_id", "status"),
        Index("ix_tasks_assignee", "assignee_id", "status", "due_date"),
        # The reminders' sweep: open, not reminded yet, reminder moment passed.
        Index("ix_tasks_remind", "status", "reminded_at", "remind_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(Date)
    due_time: Mapped[time | None] = mapped_column(Time)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_tasks_assignee_id_users", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(10), default="open")
    # Minutes before the due moment to remind the assignee (None: no reminder); the moment
    # itself in naive UTC, worked out in the assignee's time zone when the task is planned.
    remind_minutes: Mapped[int | None] = mapped_column(Integer)
    remind_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_by: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Activity(db.Model):
    """A call, meeting, e-mail or visit logged against a record."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_record", "entity_key", "record_id", "happened_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    happened_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
