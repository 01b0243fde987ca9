"""System tables of the runtime: field history and notes of records (the timeline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow


class RecordHistory(db.Model):
    """One change of one record: who, when, and each field's value before and after."""

    __tablename__ = "record_history"
    __table_args__ = (Index("ix_record_history_record", "entity_key", "record_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[Any] = mapped_column(JSON, nullable=True)
    # The version of the record the change made (None: written before versions were kept,
    # or by a change that does not make one, such as a share).
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class RecordNote(db.Model):
    """A note written on a record's timeline."""

    __tablename__ = "record_notes"
    __table_args__ = (Index("ix_record_notes_record", "entity_key", "record_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
