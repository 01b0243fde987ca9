"""Factories for test data. Passwords are hashed once per run, not once per user."""

from __future__ import annotations

import itertools
from functools import cache

from sqlalchemy import select

from crm.access.models import Department, Role, User
from crm.auth.passwords import hash_password
from crm.extensions import db

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
    "Staff", seeded by the migrations, gives every data right) in ``department``."""
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
