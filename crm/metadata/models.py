"""System tables holding the metadata. Only ``crm.schema.service`` writes them."""

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
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.timeutil import utcnow


class MetaVersion(db.Model):
    """One row: the metadata version, bumped in the same transaction as every change, and
    the access stamp, which database triggers change with every change to roles, grants,
    field rights, role assignments and departments (migration 0007), and the share stamp,
    which they change with every change to record shares (migration 0012)."""

    __tablename__ = "meta_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    access_stamp: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    share_stamp: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class EntityRow(db.Model):
    """An entity as the administrator defined it. ``key`` never changes after creation."""

    __tablename__ = "meta_entities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(41), unique=True)
    label_singular: Mapped[str] = mapped_column(String(200))
    label_plural: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    icon: Mapped[str] = mapped_column(String(40), default="")
    color: Mapped[str] = mapped_column(String(20), default="")
    name_field: Mapped[str | None] = mapped_column(String(41))
    translations: Mapped[dict] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )  # "singular"/"plural" -> {locale: text} (crm.metadata.labels)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    fields: Mapped[list[FieldRow]] = relationship(
        back_populates="entity", order_by="FieldRow.position", cascade="all, delete-orphan"
    )


class FieldRow(db.Model):
    """A field of an entity; its key is the column name in ``x_<entity>``."""

    __tablename__ = "meta_fields"
    __table_args__ = (UniqueConstraint("entity_id", "key", name="uq_meta_fields_entity_id_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_id: Mapped[int] = mapped_column(
        ForeignKey("meta_entities.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(41))
    type: Mapped[str] = mapped_column(String(30))
    label: Mapped[str] = mapped_column(String(200))
    help_text: Mapped[str] = mapped_column(Text, default="")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    unique: Mapped[bool] = mapped_column(Boolean, default=False)
    default: Mapped[Any] = mapped_column(JSON, nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    searchable: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    choices: Mapped[list] = mapped_column(JSON, default=list)
    translations: Mapped[dict] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )  # "label"/"help" -> {locale: text}
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    entity: Mapped[EntityRow] = relationship(back_populates="fields")


class Sequence(db.Model):
    """Next value of an auto-number field; kept out of the metadata so numbering a record
    does not bump the metadata version."""

    __tablename__ = "meta_sequences"

    entity_key: Mapped[str] = mapped_column(String(41), primary_key=True)
    field_key: Mapped[str] = mapped_column(String(41), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger, default=1)


class ConfigChange(db.Model):
    """The configuration change log: who changed what, when, with before and after."""

    __tablename__ = "meta_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(BigInteger)
    entity_key: Mapped[str] = mapped_column(String(41), index=True)
    field_key: Mapped[str | None] = mapped_column(String(41))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)


class LayoutRow(db.Model):
    """A form layout of an entity: ``kind`` is "form" (create/edit/record page) or "quick"
    (quick create). ``definition`` is validated by ``crm.metadata.layouts``."""

    __tablename__ = "meta_layouts"
    __table_args__ = (
        UniqueConstraint("entity_key", "kind", name="uq_meta_layouts_entity_key_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    kind: Mapped[str] = mapped_column(String(20))
    definition: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class ListViewRow(db.Model):
    """A list view: columns, sort and filters. ``owner_id`` NULL means a shared view
    published by an administrator; otherwise a user's private view."""

    __tablename__ = "meta_list_views"
    __table_args__ = (Index("uq_meta_list_views_entity_key_key", "entity_key", "key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41), index=True)
    # A shared view's stable key (migration 0016; unique per entity, never changes):
    # packages name it by this. Private views are people's own: NULL.
    key: Mapped[str | None] = mapped_column(String(41))
    name: Mapped[str] = mapped_column(String(200))
    translations: Mapped[dict] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )  # "name" -> {locale: text}
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    columns: Mapped[list] = mapped_column(JSON, default=list)
    sort: Mapped[dict] = mapped_column(JSON, default=dict)
    filters: Mapped[list] = mapped_column(JSON, default=list)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
