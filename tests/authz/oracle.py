"""The oracle: expected allow / deny computed from the declared roles and the record's
position alone (``declare.py``), written from the rules of issue 6, not from the code.

- A role's level for (entity, action) is its row for the entity, else its "*" row, else none.
- A user's level is the widest of their roles' levels; a full administrator may do anything.
- Owner rule by level: none: nothing; own: records they own; department: records owned by
  anyone in their department; department and below: by anyone in their department or a
  department under it; all: every record.
- Shares add records to "read" (read or edit shares) and to "edit" (edit shares), only when
  the user's level for that action is above none. A share with a department reaches its
  members and the members of every department below it.
- Every action other than read also needs the record to be readable; bulk edit also needs
  edit. Every runtime route of an entity needs the read right on the entity.
- Field rights: hidden < read < edit; no row means edit; a user gets the widest access among
  the roles that may read the entity; administrators edit everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.authz import declare as d


def ancestors(department: str | None) -> list[str]:
    """The department and every department above it."""
    out = []
    while department is not None:
        out.append(department)
        department = d.DEPARTMENTS[department]
    return out


def is_admin(actor: str) -> bool:
    return actor in d.ADMINS


def role_level(role: str, entity: str, action: str) -> int:
    grants = d.ROLES[role]["grants"]
    found = grants.get(entity, {}).get(action)
    if found is None:
        found = grants.get("*", {}).get(action, d.NONE)
    return found


def level(actor: str, entity: str, action: str) -> int:
    if is_admin(actor):
        return d.ALL
    return max((role_level(r, entity, action) for r in d.ACTORS[actor]), default=d.NONE)


def may_configure(actor: str) -> bool:
    return is_admin(actor) or any(d.ROLES[r].get("configure") for r in d.ACTORS[actor])


def may_manage_access(actor: str) -> bool:
    return is_admin(actor) or any(d.ROLES[r].get("manage_access") for r in d.ACTORS[actor])


@dataclass(frozen=True)
class Rec:
    """What the oracle knows of a record: its entity, owner and shares."""

    entity: str
    owner: str
    shares: tuple[tuple[str, str, str], ...] = ()


def _owner_ok(actor: str, lvl: int, owner: str) -> bool:
    if lvl == d.NONE:
        return False
    if lvl == d.ALL or owner == actor:
        return True
    mine, theirs = d.department_of(actor), d.department_of(owner)
    if lvl == d.DEPT:
        return theirs == mine
    if lvl == d.SUBTREE:
        return mine in ancestors(theirs)
    return False  # OWN, not the owner


def _shared(actor: str, rec: Rec, *, edit: bool) -> bool:
    reach = set(ancestors(d.department_of(actor)))
    for kind, target, access in rec.shares:
        if edit and access != "edit":
            continue
        if (kind == "user" and target == actor) or (kind == "department" and target in reach):
            return True
    return False


def _base(actor: str, action: str, rec: Rec) -> bool:
    lvl = level(actor, rec.entity, action)
    if lvl == d.NONE:
        return False
    if _owner_ok(actor, lvl, rec.owner):
        return True
    return action in ("read", "edit") and _shared(actor, rec, edit=action == "edit")


def may(actor: str, action: str, rec: Rec) -> bool:
    """May ``actor`` do ``action`` on the record ``rec``?"""
    if is_admin(actor):
        return True
    ok = _base(actor, action, rec) and _base(actor, "read", rec)
    if action == "bulk_edit":
        ok = ok and _base(actor, "edit", rec)
    return ok


def may_entity(actor: str, entity: str, action: str) -> bool:
    """May ``actor`` use ``action`` on ``entity`` at all (and read it: every runtime route of
    an entity needs that)?"""
    if is_admin(actor):
        return True
    ok = level(actor, entity, action) > d.NONE and level(actor, entity, "read") > d.NONE
    if action == "bulk_edit":
        ok = ok and level(actor, entity, "edit") > d.NONE
    return ok


_RANK = {d.HIDDEN: 0, d.READ: 1, d.EDIT: 2}


def field_access(actor: str, entity: str, field: str) -> str:
    if is_admin(actor):
        return d.EDIT
    best = d.HIDDEN
    for role in d.ACTORS[actor]:
        if role_level(role, entity, "read") == d.NONE:
            continue
        access = d.ROLES[role]["fields"].get((entity, field), d.EDIT)
        if _RANK[access] > _RANK[best]:
            best = access
    return best


def can_see_field(actor: str, entity: str, field: str) -> bool:
    return field_access(actor, entity, field) != d.HIDDEN


def can_set_field(actor: str, entity: str, field: str) -> bool:
    return field_access(actor, entity, field) == d.EDIT
