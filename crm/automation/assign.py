"""Who a rule's people are: assignees (a user, round-robin or least-loaded among a
department's or a role's active members) and recipients (the owner, the owner's department
manager, a role, a department, a user).

Members are read in id order; round-robin keeps its turn in ``automation_pointers`` (one
row per rule, locked while it is moved on, so two workers never give the same turn).
Least-loaded counts the live records of the entity each member owns in one grouped query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.access.models import Department, User, user_roles
from crm.automation.models import RoundRobinPointer
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.records.query import table_of

MAX_ID = 2**31 - 1


def _id(value: Any) -> int | None:
    try:
        found = int(value)
    except (TypeError, ValueError):
        return None
    return found if 1 <= found <= MAX_ID else None


def members(group: Mapping[str, Any]) -> list[int]:
    """The active members (ids, ascending) of ``{"department": id}`` or ``{"role": id}``."""
    query = select(User.id).where(User.is_active.is_(True)).order_by(User.id)
    if "department" in group:
        dept = _id(group.get("department"))
        query = query.where(User.department_id == (dept or 0))
    elif "role" in group:
        role = _id(group.get("role"))
        query = query.join(user_roles, user_roles.c.user_id == User.id).where(
            user_roles.c.role_id == (role or 0)
        )
    else:
        return []
    return list(db.session.scalars(query))


def active_user(user_id: Any) -> User | None:
    """The active user ``user_id``, or None."""
    found = _id(user_id)
    if found is None:
        return None
    user = db.session.get(User, found)
    return user if user is not None and user.is_active else None


def round_robin(rule_id: int, candidates: list[int]) -> int:
    """The next of ``candidates`` after the rule's last turn; the turn moves on."""
    pointer = db.session.scalar(
        select(RoundRobinPointer).where(RoundRobinPointer.rule_id == rule_id).with_for_update()
    )
    if pointer is None:
        pointer = RoundRobinPointer(rule_id=rule_id, last_user_id=None)
        db.session.add(pointer)
    last = pointer.last_user_id or 0
    chosen = next((c for c in candidates if c > last), candidates[0])
    pointer.last_user_id = chosen
    db.session.flush()
    return chosen


def least_loaded(spec: EntitySpec, candidates: list[int]) -> int:
    """The one of ``candidates`` owning the fewest live records of ``spec`` (the first by
    id on a tie). A count, never shown, of every record (not only those the rule's owner
    reads): the load is the members' whole load."""
    table = table_of(spec)
    counts = dict(
        db.session.execute(
            select(table.c.owner_id, func.count())
            .where(table.c.owner_id.in_(candidates), table.c.deleted_at.is_(None))
            .group_by(table.c.owner_id)
        ).all()
    )
    return min(candidates, key=lambda c: (counts.get(c, 0), c))


def assignee(rule_id: int, spec: EntitySpec, to: Any, how: str | None) -> int:
    """The user an "assign" action gives the record to. ``ValidationFailed`` when nobody
    can be chosen (no such active user, an empty department or role)."""
    if not isinstance(to, Mapping):
        raise ValidationFailed(_("The rule does not say whom to assign to."))
    if "user" in to:
        user = active_user(to.get("user"))
        if user is None:
            raise ValidationFailed(_("The user to assign to is not an active user."))
        return user.id
    candidates = members(to)
    if not candidates:
        raise ValidationFailed(_("The department or role to assign within has no active members."))
    if how == "least_loaded":
        return least_loaded(spec, candidates)
    return round_robin(rule_id, candidates)


def recipients(to: Iterable[Any], owner_id: int | None) -> list[int]:
    """The active users (ids, in order, once each) a list of ``<recipient>`` names:
    "owner", "manager" (the owner's department's manager), ``{"role": id}``,
    ``{"department": id}``, ``{"user": id}``. Unknown entries name nobody."""
    out: list[int] = []
    for entry in to if isinstance(to, list | tuple) else ():
        found: list[int] = []
        if entry == "owner" and owner_id:
            found = [owner_id]
        elif entry == "manager" and owner_id:
            manager = db.session.scalar(
                select(Department.manager_id)
                .join(User, User.department_id == Department.id)
                .where(User.id == owner_id)
            )
            found = [manager] if manager else []
        elif isinstance(entry, Mapping) and "user" in entry:
            found = [u for u in [_id(entry.get("user"))] if u]
        elif isinstance(entry, Mapping):
            found = members(entry)
        out.extend(found)
    ids = list(dict.fromkeys(out))
    if not ids:
        return []
    active = set(db.session.scalars(select(User.id).where(User.id.in_(ids), User.is_active)))
    return [i for i in ids if i in active]


def names(user_ids: Iterable[int]) -> str:
    """The users' display names, comma-separated, in the order given."""
    ids = list(user_ids)
    if not ids:
        return ""
    found = dict(
        db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()
    )
    return ", ".join(found.get(i, "?") for i in ids)
