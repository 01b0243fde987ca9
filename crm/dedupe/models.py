"""System tables of duplicate rules and of their blocking keys.

A rule (``DuplicateRule``) is metadata: ``conditions`` is a JSON list, all of which must
hold for two records to be duplicates (``crm.dedupe.rules`` reads and checks it):

    [{"field": "full_name", "method": "fuzzy", "threshold": 0.8},
     {"field": "email", "method": "email"}]

    method: "exact" | "normalized" | "phone" | "email" | "company" | "domain" | "fuzzy"
    field: a field key of the rule's entity, or a list of them read as one text
           (["first_name", "last_name"]); "other_field": the same on the compared entity
           when the rule compares two entities and its field is named otherwise there.
    threshold: 0.0-1.0, fuzzy only (default 0.85)

``compare_entity_key``: the entity whose records a new or edited record is compared with
(a lead with contacts); ``None``: the rule's own entity.

``DedupeKey`` holds each record's blocking keys under each rule (``crm.dedupe.keys``
writes them): finding candidates is one indexed lookup of the keys a typed record would
have, and the precise score runs in Python on those few records only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

WARN, BLOCK = "warn", "block"
ACTIONS = (WARN, BLOCK)
KEY_LENGTH = 200  # longer keys are cut: a key only narrows the candidates, the score decides


class DuplicateRule(db.Model):
    """One duplicate rule of one entity. ``key`` never changes; ``name`` and its
    ``translations`` (``{"name": {locale: text}}``) do."""

    __tablename__ = "duplicate_rules"
    __table_args__ = (Index("ix_duplicate_rules_entity", "entity_key", "enabled"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(41), unique=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    name: Mapped[str] = mapped_column(String(200))
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    action: Mapped[str] = mapped_column(String(10), default=WARN)
    on_create: Mapped[bool] = mapped_column(Boolean, default=True)
    on_edit: Mapped[bool] = mapped_column(Boolean, default=True)
    compare_entity_key: Mapped[str | None] = mapped_column(String(41))
    conditions: Mapped[Any] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class DedupeKey(db.Model):
    """One blocking key of one record under one rule. Records of the compared entity of a
    cross-entity rule carry keys under that rule too, under their own ``entity_key``."""

    __tablename__ = "dedupe_keys"
    __table_args__ = (
        # covering: a candidate lookup reads the index alone
        Index("ix_dedupe_keys_lookup", "entity_key", "rule_key", "key", "record_id"),
        Index("ix_dedupe_keys_record", "entity_key", "record_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    rule_key: Mapped[str] = mapped_column(String(41))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))


class DuplicateScan(db.Model):
    """The last search for duplicate groups of one entity (the ``dedupe.groups`` job):
    ``groups`` is a JSON list of ``{"ids": [record ids], "score": 0.0-1.0}``, best first,
    over every live record (a page keeps the records its reader may read). ``job_id``: the
    job last asked for (running while that job is not finished)."""

    __tablename__ = "duplicate_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41), unique=True)
    job_id: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[datetime | None] = mapped_column(DateTime)
    groups: Mapped[Any] = mapped_column(JSON, default=list)
    skipped: Mapped[int] = mapped_column(Integer, default=0)


class RecordMerge(db.Model):
    """One merge of records of one entity into ``master_id``: what it changed, so that it
    can be undone exactly while the merged records are in the recycle bin.

    ``changes``: the master's values it overwrote, ``{key: [before, after]}`` (as the
    history keeps values); ``moved``: what it re-pointed from a merged record to the
    master, ``{kind: [[row id, from record id, ...], ...]}`` (``crm.dedupe.merge``)."""

    __tablename__ = "record_merges"
    __table_args__ = (Index("ix_record_merges_master", "entity_key", "master_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    master_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    changes: Mapped[Any] = mapped_column(JSON, default=dict)
    moved: Mapped[Any] = mapped_column(JSON, default=dict)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)
    undone_by: Mapped[int | None] = mapped_column(Integer)


class MergedRecord(db.Model):
    """A record merged into another: the pointer from the record (in the recycle bin) to
    its master, and the merge that put it there."""

    __tablename__ = "merged_records"
    __table_args__ = (Index("ix_merged_records_record", "entity_key", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merge_id: Mapped[int] = mapped_column(
        ForeignKey("record_merges.id", name="fk_merged_records_merge_id", ondelete="CASCADE"),
        index=True,
    )
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(BigInteger)
    master_id: Mapped[int] = mapped_column(BigInteger)
