"""System tables of pipelines: their stages (metadata, written only by
``crm.pipelines.service``) and the history of moves between stages (runtime)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.timeutil import utcnow


class PipelineRow(db.Model):
    """A pipeline of an entity ("New business", "Renewal"). ``key`` never changes."""

    __tablename__ = "meta_pipelines"
    __table_args__ = (
        UniqueConstraint("entity_key", "key", name="uq_meta_pipelines_entity_key_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41), index=True)
    key: Mapped[str] = mapped_column(String(41))
    name: Mapped[str] = mapped_column(String(200))
    translations: Mapped[dict] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )  # "name" -> {locale: text}
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # amount_field, card_fields, probability_override (see crm.pipelines.spec)
    options: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    stages: Mapped[list[StageRow]] = relationship(
        back_populates="pipeline", order_by="StageRow.position", cascade="all, delete-orphan"
    )


class StageRow(db.Model):
    """A stage of a pipeline. Stage keys are unique within an entity (across its
    pipelines), so the stored key alone names the stage."""

    __tablename__ = "meta_stages"
    __table_args__ = (UniqueConstraint("entity_key", "key", name="uq_meta_stages_entity_key_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        ForeignKey("meta_pipelines.id", ondelete="CASCADE"), index=True
    )
    entity_key: Mapped[str] = mapped_column(String(41))
    key: Mapped[str] = mapped_column(String(41))
    name: Mapped[str] = mapped_column(String(200))
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    probability: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[str] = mapped_column(String(10), default="open")  # open / won / lost
    color: Mapped[str] = mapped_column(String(20), default="gray")
    required_fields: Mapped[list] = mapped_column(JSON, default=list)
    stale_days: Mapped[int | None] = mapped_column(Integer)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)

    pipeline: Mapped[PipelineRow] = relationship(back_populates="stages")


class StageMove(db.Model):
    """One move of one record between stages: from, to, who, when, why, and how long the
    record had been in the stage it left (so time in stage and cycle time are sums over
    this table, not replays of the record history). A record's first stage is a move
    from None."""

    __tablename__ = "stage_moves"
    __table_args__ = (
        Index("ix_stage_moves_record", "entity_key", "record_id", "at"),
        Index("ix_stage_moves_pipeline", "entity_key", "pipeline", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    pipeline: Mapped[str] = mapped_column(String(41))
    from_stage: Mapped[str | None] = mapped_column(String(41))
    to_stage: Mapped[str] = mapped_column(String(41))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(64))
    seconds_in_from: Mapped[int | None] = mapped_column(BigInteger)
