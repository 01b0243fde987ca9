"""System tables of imports: saved mappings; the run, its file (in chunks), what it wrote,
its bad rows.

The file is kept in the database, in pieces of ``CHUNK`` bytes, so any worker on any
machine reads it (the queue's workers share the database, not a disk). ``import_rows``
says which record each line became or changed, with the values it replaced (undo);
``import_problems`` the rows that were not imported, with their cells and the reason per
field (the error file). Each batch writes its rows, its problems and the run's checkpoint
(``last_line``) in one transaction: a run resumed after a kill starts after the
checkpoint, so nothing is lost or written twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

CHUNK = 1 << 20  # 1 MiB pieces: one row each, well under every driver's limits
QUEUED, RUNNING, DONE, FAILED, UNDONE = "queued", "running", "done", "failed", "undone"
# How rows are imported, one word set for the screens, the CLI and the run engine: create
# records, update existing ones, or both (update the matches, create the others).
CREATE, UPDATE, BOTH = "create", "update", "both"
MODES = (CREATE, UPDATE, BOTH)
UPSERT = "upsert"  # an alias of BOTH (the CLI's word; imports stored before the words met)
ALIASES = {UPSERT: BOTH}


def mode_of(word: Any) -> str:
    """The import mode ``word`` names (``upsert`` is ``both``); other words unchanged, for
    the caller to refuse."""
    text = str(word or "").strip().casefold()
    return ALIASES.get(text, text)


class Import(db.Model):
    """One import of a file into an entity by a user, with its settings and mapping."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    settings: Mapped[Any] = mapped_column(JSON)  # how the file is read, its column names
    mapping: Mapped[Any] = mapped_column(JSON)  # [{"column": i, "field": key, ...}]
    mode: Mapped[str] = mapped_column(String(10))
    match: Mapped[Any] = mapped_column(JSON)  # field keys a row is matched on
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    last_line: Mapped[int] = mapped_column(Integer, default=0)  # the checkpoint
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)


class ImportChunk(db.Model):
    """The ``seq``-th piece of an import's file."""

    __tablename__ = "import_chunks"

    import_id: Mapped[int] = mapped_column(
        ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


# What a line did (``ImportRow.action``): created or updated a record of the import's
# entity, or created a linked record (a lookup rule "create": ``previous`` names its entity).
CREATED, UPDATED, LINKED = "created", "updated", "linked"


class ImportRow(db.Model):
    """A line of the file that created or updated a record (``version``: the record's
    version after it; ``previous``: the values the update replaced, as JSON; for a linked
    record created by the line, ``{"entity": its entity's key}``)."""

    __tablename__ = "import_rows"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    previous: Mapped[Any | None] = mapped_column(JSON)


class ImportProblem(db.Model):
    """A line that was not imported: its cells (or its raw text) and why, per field."""

    __tablename__ = "import_problems"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    cells: Mapped[Any] = mapped_column(JSON)  # the row's values, or [raw text] of a bad row
    reasons: Mapped[Any] = mapped_column(JSON)  # {field key or "": [messages]}


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
