"""People: users, departments (a tree with materialized paths) and roles with their grants
and field rights. Passwords are hashed once per run, not once per user."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from functools import cache

from sqlalchemy import select

from crm.access import policy
from crm.access.models import Department, FieldRight, Role, RoleGrant, User
from crm.auth.passwords import hash_password
from crm.extensions import db
from crm.metadata.keys import suggest_key

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def make_user(
    email: str | None = None,
    *,
    display_name: str | None = None,
    is_admin: bool = False,
    is_active: bool = True,
    roles: tuple[str, ...] = ("Staff",),
    department: Department | None = None,
) -> User:
    """Create and commit a user whose password is ``PASSWORD``, holding ``roles`` (by name;
    "Staff", seeded by the migrations, gives every data right) in ``department``.

    Fails (AssertionError) when a role name is unknown."""
    n = next(_seq)
    user = User(
        email=(email or f"user{n}@example.com").lower(),
        display_name=display_name or f"User {n}",
        password_hash=_password_hash(),
        is_admin=is_admin,
        is_active=is_active,
        department_id=department.id if department is not None else None,
    )
    if roles:
        user.roles = list(db.session.scalars(select(Role).where(Role.name.in_(roles))))
        assert len(user.roles) == len(set(roles)), f"unknown role in {roles}"
    db.session.add(user)
    db.session.commit()
    return user


def make_department(name: str, parent: Department | None = None) -> Department:
    """Create and commit a department under ``parent`` (a root without one), with its
    materialized path ("/1/4/") as the access service writes it."""
    d = Department(name=name, parent_id=parent.id if parent else None, path="/")
    db.session.add(d)
    db.session.flush()
    # The path holds the row's own id, known only after the flush.
    d.path = f"{parent.path if parent else '/'}{d.id}/"
    db.session.commit()
    return d


def make_departments(tree: Mapping[str, str | None]) -> dict[str, Department]:
    """Create a department tree given as ``{name: parent name or None}`` (parents listed
    before their children); returns the departments by name."""
    made: dict[str, Department] = {}
    for name, parent in tree.items():
        made[name] = make_department(name, made[parent] if parent else None)
    return made


def make_role(
    name: str,
    grants: Mapping[tuple[str, str] | str, int] | None = None,
    fields: Mapping[tuple[str, str], str] | None = None,
    *,
    entity: str = "*",
    description: str = "",
    **flags: bool,
) -> Role:
    """Create and commit a role with ``grants`` and field rights ``fields``
    ({(entity, field): access}); ``flags`` are the administration rights (``can_configure``,
    ``can_manage_access``). A grant's key is (entity or "*", action), or an action alone,
    which then applies to ``entity``.

    Roles are written straight to the tables, not through the access service, so the
    policy's rights read in this app context are dropped afterwards (``policy.forget``)."""
    taken = set(db.session.scalars(select(Role.key).where(Role.key.is_not(None))))
    r = Role(name=name, key=suggest_key(name, taken=taken), description=description, **flags)
    db.session.add(r)
    db.session.flush()
    for key, level in (grants or {}).items():
        on, action = (entity, key) if isinstance(key, str) else key
        db.session.add(RoleGrant(role_id=r.id, entity_key=on, action=action, level=level))
    for (on, field), access in (fields or {}).items():
        db.session.add(FieldRight(role_id=r.id, entity_key=on, field_key=field, access=access))
    db.session.commit()
    policy.forget()
    return r
