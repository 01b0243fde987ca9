"""System tables of people and their access: users, departments, roles, grants, field rights,
record shares and invitations."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
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


class _TranslatedName:
    """A row with a plain ``name`` and its ``translations`` (``crm.access.names``)."""

    @property
    def display_name(self) -> str:
        """The name in the reader's language (the request's), else the plain name."""
        from crm.access.names import shown

        return shown(self.name, self.translations)


class User(UserMixin, db.Model):
    """A person who signs in. ``is_admin`` opens the configuration area."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Interface language and time zone (crm.i18n); None follows the browser / company.
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    roles = relationship("Role", secondary="user_roles", order_by="Role.name")
    department = relationship("Department", foreign_keys=[department_id])

    # Set by the user loader: the sign-in this request belongs to. Flask-Login stores
    # get_id() in the session cookie, so the cookie names a revocable server-side session,
    # never the user's primary key.
    auth_session = None  # type: AuthSession | None (not a column)

    def get_id(self) -> str:
        if self.auth_session is None or not self.auth_session.token:
            raise RuntimeError("get_id() needs a sign-in session; use crm.auth.service.sign_in")
        return self.auth_session.token

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


# --- Organisation and access (issue 6) ---------------------------------------------------
#
# Departments form a tree stored with a materialized path ("/1/4/9/"): a department and
# everything below it is ``path LIKE '/1/4/%'``, one indexed condition, no recursion.
# A role holds, per entity and action, a scope level (policy.NONE .. policy.ALL) and, per
# field, hidden / read / edit. ``entity_key = "*"`` is the role's rule for every entity
# without a row of its own (so a new entity is covered the day it is created).

user_roles = db.Table(
    "user_roles",
    db.Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    db.Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_user_roles_role_id", "role_id"),
)


class Department(_TranslatedName, db.Model):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_departments_parent_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    translations: Mapped[dict] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )  # "name" -> {locale: text} (crm.metadata.labels)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(1000), index=True, default="/")
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True, name="fk_departments_manager")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    def __repr__(self) -> str:
        return f"<Department {self.id} {self.name} {self.path}>"


class Role(_TranslatedName, db.Model):
    """A set of rights. ``can_configure`` opens the designer; ``can_manage_access`` the
    users, roles and departments screens (never beyond the holder's own rights)."""

    __tablename__ = "roles"
    __table_args__ = (Index("uq_roles_key", "key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    # The stable key packages name the role by (migration 0016); never changes. Nullable
    # only because SQLite cannot add a NOT NULL column in place: every writer sets it.
    key: Mapped[str | None] = mapped_column(String(41))
    translations: Mapped[dict] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )  # "name" -> {locale: text} (crm.metadata.labels)
    description: Mapped[str] = mapped_column(Text, default="")
    can_configure: Mapped[bool] = mapped_column(Boolean, default=False)
    can_manage_access: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Role {self.id} {self.name}>"


class RoleGrant(db.Model):
    """The scope ``level`` a role gives for ``action`` on ``entity_key`` ("*" = default)."""

    __tablename__ = "role_grants"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    entity_key: Mapped[str] = mapped_column(String(41), primary_key=True)
    action: Mapped[str] = mapped_column(String(20), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)


class FieldRight(db.Model):
    """``access`` ("hidden", "read" or "edit") a role gives to one field; no row = edit."""

    __tablename__ = "role_field_rights"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    entity_key: Mapped[str] = mapped_column(String(41), primary_key=True)
    field_key: Mapped[str] = mapped_column(String(41), primary_key=True)
    access: Mapped[str] = mapped_column(String(10))


class RecordShare(db.Model):
    """A record shared with one user or one department (its members), to read or edit."""

    __tablename__ = "record_shares"
    __table_args__ = (
        Index("uq_record_shares_user", "entity_key", "record_id", "user_id", unique=True),
        Index(
            "uq_record_shares_department", "entity_key", "record_id", "department_id", unique=True
        ),
        Index("ix_record_shares_user", "entity_key", "user_id"),
        Index("ix_record_shares_department", "entity_key", "department_id"),
        CheckConstraint("access IN ('read', 'edit')", name="ck_record_shares_access"),
        CheckConstraint(
            "(user_id IS NULL) <> (department_id IS NULL)", name="ck_record_shares_target"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(41))
    record_id: Mapped[int] = mapped_column(db.BigInteger)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE")
    )
    access: Mapped[str] = mapped_column(String(10))  # "read" or "edit"
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UserInvite(db.Model):
    """A one-time link that lets a new user choose their password. Only the hash is kept."""

    __tablename__ = "user_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class AccessAuditEntry(db.Model):
    """One access change: who (``actor_id``, their name then), when, what (``kind`` and
    ``action`` about one subject: a user, a role, a department, or a record's shares or
    owner) and the values before and after (JSON objects of the changed items, as people
    read them). Written in the unit of work of the change itself (``crm.access.audit``).
    Subjects are plain ids, not foreign keys: an entry outlives what it is about."""

    __tablename__ = "access_audit"
    __table_args__ = (
        Index("ix_access_audit_at", "at"),
        Index("ix_access_audit_user", "user_id", "at"),
        Index("ix_access_audit_role", "role_id", "at"),
        Index("ix_access_audit_department", "department_id", "at"),
        Index("ix_access_audit_actor", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(300))
    user_id: Mapped[int | None] = mapped_column(Integer)
    role_id: Mapped[int | None] = mapped_column(Integer)
    department_id: Mapped[int | None] = mapped_column(Integer)
    entity_key: Mapped[str | None] = mapped_column(String(41))
    record_id: Mapped[int | None] = mapped_column(db.BigInteger)
    before: Mapped[str] = mapped_column(Text, default="{}")
    after: Mapped[str] = mapped_column(Text, default="{}")
