"""Who can see this record, and why: the administrators' panel on every record (issue 6).

``explain`` lists every active user who can read one record, and who can edit it, each
with the rule that grants it ("Role Sales rep: Read = Own records — owns it", "Shared with
department Sales (read)"). It is computed in Python from the same rules ``policy.scope``
turns into SQL, for one record at a time, with a fixed number of queries whatever the
number of users; ``tests/records/test_who_can_see.py`` holds it to agreement with the
scoped query layer over a tree of departments, several roles and shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from crm.access import policy
from crm.access.models import Department, RecordShare, User, user_roles
from crm.errors import Forbidden
from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.records import service as records
from crm.records.sharing import access_words, path_labels


@dataclass(frozen=True)
class Verdict:
    """One active user's access to one record: the rules that let them read it and edit it
    (empty: they cannot)."""

    user_id: int
    name: str
    email: str
    department: str | None
    read: tuple[str, ...]
    edit: tuple[str, ...]

    @property
    def can_read(self) -> bool:
        return bool(self.read)

    @property
    def can_edit(self) -> bool:
        return bool(self.read) and bool(self.edit)


@dataclass(frozen=True)
class Explanation:
    """Who can see a record and why: ``readers`` (those who can edit it among them), and
    ``idle_shares``: shares with people whose roles give no right to read the entity, so the
    share gives them nothing (the entity-level right gates sharing)."""

    readers: tuple[Verdict, ...]
    idle_shares: tuple[str, ...]

    @property
    def editors(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.readers if v.can_edit)


def who_can_see(user: Any, spec: EntitySpec, record_id: int) -> Explanation:
    """``explain`` for an access manager (``policy.MANAGE_ACCESS``: full administrators
    and roles that may manage users and roles) on a record they may read.

    ``Forbidden`` for anyone else; ``NotFound`` if the record does not exist for them."""
    if not policy.can(user, policy.MANAGE_ACCESS):
        raise Forbidden("Only administrators can see who has access to a record.")
    row = records.get(user, spec, record_id)
    return explain(spec, row)


def explain(spec: EntitySpec, row: Mapping[str, Any]) -> Explanation:
    """Every active user who can read the record ``row`` (a mapping with ``id`` and
    ``owner_id``), with the rules that grant read and edit, by ``policy.scope``'s rules:

    - a full administrator may do everything;
    - otherwise each action has the widest level of the user's roles (an entity's own grant,
      else the role's "*" grant); a role grants it when the owner matches its level: all
      records; own (owner is the user); own department (the owner is in the user's
      department); department and below (the owner's department path starts with the
      user's); a user without a department matches only their own records;
    - read and edit shares widen "read", edit shares widen "edit", when the level is above
      none and below all; a share with a department reaches its members and the members of
      every department below it;
    - editing also needs reading.

    No permission check (see ``who_can_see``). Seven queries, whatever the number of users.
    """
    key = spec.key
    owner_id = row["owner_id"]
    people = db.session.execute(
        select(User.id, User.display_name, User.email, User.is_admin, User.is_active,
               User.department_id)
        .where(or_(User.is_active.is_(True), User.id == owner_id))
        .order_by(User.display_name, User.id)
    ).all()  # fmt: skip
    by_id = {p.id: p for p in people}
    active = [p for p in people if p.is_active]
    role_ids: dict[int, list[int]] = {}
    for uid, rid in db.session.execute(
        select(user_roles.c.user_id, user_roles.c.role_id)
        .join(User, User.id == user_roles.c.user_id)
        .where(User.is_active.is_(True), User.is_admin.is_(False))
    ):
        role_ids.setdefault(uid, []).append(rid)
    roles = {
        r.id: r for r in policy.load_role_rights({i for ids in role_ids.values() for i in ids})
    }
    departments = {
        d.id: d for d in db.session.execute(select(Department.id, Department.name, Department.path))
    }
    paths = path_labels(departments.values())
    names = {d.id: d.name for d in departments.values()}
    target, creator = aliased(User), aliased(User)
    shares = db.session.execute(
        select(RecordShare.user_id, RecordShare.department_id, RecordShare.access,
               creator.display_name.label("by"), target.display_name.label("name"))
        .outerjoin(creator, creator.id == RecordShare.created_by)
        .outerjoin(target, target.id == RecordShare.user_id)
        .where(RecordShare.entity_key == key, RecordShare.record_id == row["id"])
        .order_by(RecordShare.id)
    ).all()  # fmt: skip

    owner = by_id.get(owner_id) if owner_id is not None else None
    owner_department = departments.get(owner.department_id) if owner is not None else None

    readers: list[Verdict] = []
    idle: list[str] = []
    for person in active:
        if person.is_admin:
            reasons = ("Full administrator",)
            readers.append(_verdict(person, paths, reasons, reasons))
            continue
        mine = [roles[i] for i in role_ids.get(person.id, ()) if i in roles]
        home = departments.get(person.department_id)
        context = _Context(person, home, owner_id, owner, owner_department, names)
        read = _reasons(key, "read", mine, context, shares)
        if not read:
            idle += [
                f"{s.name} ({access_words(s.access)}): their roles give no right to read "
                f"{spec.label_plural}"
                for s in shares
                if s.user_id == person.id
            ]
            continue
        edit = _reasons(key, "edit", mine, context, shares)
        readers.append(_verdict(person, paths, read, edit))
    return Explanation(tuple(readers), tuple(idle))


def _verdict(person, labels, read, edit) -> Verdict:
    return Verdict(
        user_id=person.id,
        name=person.display_name,
        email=person.email,
        department=labels.get(person.department_id),
        read=tuple(read),
        edit=tuple(edit),
    )


@dataclass(frozen=True)
class _Context:
    person: Any
    home: Any  # the person's department row, or None
    owner_id: int | None
    owner: Any  # the owner's user row, or None (no owner, or no such user)
    owner_department: Any
    labels: Mapping[int, str]  # department names by id

    @property
    def chain(self) -> tuple[int, ...]:
        """The person's department and every one above it, as ``Rights.department_chain``."""
        if self.home is None:
            return ()
        return tuple(int(p) for p in self.home.path.strip("/").split("/") if p)


def _owner_match(level: int, c: _Context) -> str | None:
    """Why the record's owner falls in ``level`` for this person (``_owner_condition``),
    or None when it does not."""
    if level >= policy.ALL:
        return ""
    if level <= policy.NONE:
        return None
    if c.owner_id is not None and c.owner_id == c.person.id:
        return "owns it"
    if level == policy.OWN or c.person.department_id is None:
        return None
    od = c.owner_department
    if od is None:
        return None
    if level == policy.DEPARTMENT:
        if od.id == c.person.department_id:
            return f"owner is in {c.labels[od.id]}"
        return None
    prefix = c.home.path if c.home is not None else "/-/"
    if not od.path.startswith(prefix):
        return None
    if od.id == c.person.department_id:
        return f"owner is in {c.labels[od.id]}"
    return f"owner is in {c.labels[od.id]}, below {c.labels[c.home.id]}"


def _reasons(key: str, action: str, roles, c: _Context, shares) -> tuple[str, ...]:
    """The rules that let this person ``action`` the record, as ``_action_condition``."""
    out = []
    for role in roles:
        level = role.level(key, action)
        why = _owner_match(level, c)
        if why is not None:
            rule = (
                f"Role {role.name}: {policy.ACTION_LABELS[action]} = {policy.LEVEL_LABELS[level]}"
            )
            out.append(f"{rule} — {why}" if why else rule)
    level = max((r.level(key, action) for r in roles), default=policy.NONE)
    if policy.NONE < level < policy.ALL:
        for s in shares:
            if action == "edit" and s.access != "edit":
                continue
            how = access_words(s.access)
            if s.user_id is not None and s.user_id == c.person.id:
                by = f" by {s.by}" if s.by else ""
                out.append(f"Shared with them{by} ({how})")
            elif s.department_id is not None and s.department_id in c.chain:
                text = f"Shared with department {c.labels.get(s.department_id, '?')} ({how})"
                if s.department_id != c.person.department_id:
                    text += f" — they are in {c.labels[c.person.department_id]}, below it"
                out.append(text)
    return tuple(out)
