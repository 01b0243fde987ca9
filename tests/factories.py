"""Factories for test data. Passwords are hashed once per run, not once per user."""

from __future__ import annotations

import itertools
from functools import cache

from crm.extensions import db
from crm.security.models import User
from crm.security.passwords import hash_password

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
) -> User:
    """Create and commit a user whose password is ``PASSWORD``."""
    n = next(_seq)
    user = User(
        email=(email or f"user{n}@example.com").lower(),
        display_name=display_name or f"User {n}",
        password_hash=_password_hash(),
        is_admin=is_admin,
        is_active=is_active,
    )
    db.session.add(user)
    db.session.commit()
    return user
