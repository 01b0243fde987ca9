"""System tables of packages: which package each applied item came from (its provenance),
and uploads waiting between their plan and their apply."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow


class PackageItem(db.Model):
    """One item (an entity's own settings, a field, a layout, a pipeline ...) as the package
    that last applied it said it: the "base" of the next plan's three-way merge. ``path``
    is the item's JSON pointer in the package (``/entities/deal/fields/amount``)."""

    __tablename__ = "package_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(400), unique=True)
    package_name: Mapped[str] = mapped_column(String(64), index=True)
    package_version: Mapped[str] = mapped_column(String(40))
    content_hash: Mapped[str] = mapped_column(String(64))
    base: Mapped[Any] = mapped_column(JSON)
    applied_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class SeedRecord(db.Model):
    """One seed record of a package (``entity_key`` and its ``"@key"``) and the record it
    became (``record_id``; the record may since be in the recycle bin or purged: a seed
    record the company deleted is not made again). ``base`` is what the package that last
    applied it said (its values in the seed format): the base of the next plan's three-way
    merge per field. The key is the entity's, whatever package brings it, like an item's
    path in ``package_items``."""

    __tablename__ = "package_seed_records"
    __table_args__ = (
        UniqueConstraint("entity_key", "seed_key", name="uq_package_seed_records_key"),
        Index("ix_package_seed_records_record", "entity_key", "record_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    seed_key: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(BigInteger)
    package_name: Mapped[str] = mapped_column(String(64))
    base: Mapped[Any] = mapped_column(JSON)
    applied_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class PackageUpload(db.Model):
    """An uploaded package between its plan and its apply, kept in the database so that a
    worker on another machine finds it; it belongs to the user who uploaded it."""

    __tablename__ = "package_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(20))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
