"""The user directory: people's display names, read in one statement per call.

Pages name owners, authors and people in choices through ``user_names``; the statements are
built once (bound parameters) because building them cost more than running them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from sqlalchemy import Select, bindparam, func, select

from crm.access.models import User
from crm.extensions import db


@cache
def _user_names_query(every_active: bool) -> Select:
    query = select(User.id, User.display_name).order_by(func.lower(User.display_name), User.id)
    if every_active:
        return query.where(User.is_active)
    return query.where(User.id.in_(bindparam("ids", expanding=True)))


def user_names(ids: Iterable[int] | None = None) -> dict[int, str]:
    """Display names by user id: of ``ids``, or of every active user when None (ordered by
    name). Unknown ids are left out."""
    if ids is None:
        return dict(db.session.execute(_user_names_query(True)).tuples().all())
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    return dict(db.session.execute(_user_names_query(False), {"ids": wanted}).tuples().all())


def active_people() -> list[tuple[int, str, str]]:
    """(id, display name, e-mail) of every active user, by name then id: the people a
    choice (a department's manager) may offer."""
    query = (
        select(User.id, User.display_name, User.email)
        .where(User.is_active.is_(True))
        .order_by(User.display_name, User.id)
    )
    return [tuple(row) for row in db.session.execute(query).all()]


def members_of(department_id: int) -> list[User]:
    """The users (active or not) whose department is ``department_id``, by name."""
    query = select(User).where(User.department_id == department_id).order_by(User.display_name)
    return list(db.session.scalars(query).all())
