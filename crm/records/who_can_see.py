"""Who can see this record, and why: the administrators' panel on every record (issue 6).

``explain`` lists every active user who can read one record, and who can edit it, each
with the rule that grants it ("Role Sales rep: Read = Own records — owns it", "Shared with
department Sales (read)"). It is computed in Python from the same entries ``policy.scope``
turns into SQL (``crm.access.levels``: each scope level's ``match`` and the share rule
give the reasons), for one record at a time, with a fixed number of queries whatever the
number of users; ``tests/records/test_who_can_see.py`` holds it to agreement with the
scoped query layer over a tree of departments, several roles and shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from crm.access import levels, policy
from crm.access import names as access_names
from crm.access.models import Department, RecordShare, User, user_roles
from crm.errors import Forbidden
from crm.extensions import db
from crm.i18n import request_locale
from crm.metadata.spec import EntitySpec
from crm.records import service as records
from crm.records.sharing import access_words, path_labels

ADMINISTRATOR = _l("Full administrator")


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
        raise Forbidden(_("Only administrators can see who has access to a record."))
    row = records.get(user, spec, record_id)
    return explain(spec, row)


def explain(spec: EntitySpec, row: Mapping[str, Any]) -> Explanation:
    """Every active user who can read the record ``row`` (a mapping with ``id`` and
    ``owner_id``), with the rules that grant read and edit, by ``policy.scope``'s rules:

    - a full administrator may do everything;
    - otherwise each role grants an action when the record is in the role's level for it
      (an entity's own grant, else the role's "*" grant), in the level's own words
      (``levels.ScopeLevel.match``);
    - shares widen read and edit where the user's widest level lets them
      (``levels.SHARES``);
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
        d.id: d
        for d in db.session.execute(
            select(Department.id, Department.name, Department.path, Department.translations)
        )
    }
    locale = request_locale()
    paths = path_labels(departments.values(), locale)
    names = {d.id: access_names.shown(d.name, d.translations, locale) for d in departments.values()}
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
    position = levels.Position(
        owner_id,
        departments.get(owner.department_id) if owner is not None else None,
        names,
        row,
    )

    readers: list[Verdict] = []
    idle: list[str] = []
    for person in active:
        if person.is_admin:
            reasons = (str(ADMINISTRATOR),)
            readers.append(_verdict(person, paths, reasons, reasons))
            continue
        home = departments.get(person.department_id)
        viewer = policy.Rights(
            person.id,
            False,
            person.department_id,
            home.path if home is not None else None,
            tuple(roles[i] for i in role_ids.get(person.id, ()) if i in roles),
        )
        read = _reasons(key, "read", viewer, position, shares)
        if not read:
            idle += [
                _(
                    "%(name)s (%(access)s): their roles give no right to read %(entities)s",
                    name=s.name,
                    access=access_words(s.access),
                    entities=spec.label_plural,
                )
                for s in shares
                if s.user_id == person.id
            ]
            continue
        edit = _reasons(key, "edit", viewer, position, shares)
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


def _reasons(
    key: str, action: str, viewer: policy.Rights, position: levels.Position, shares
) -> tuple[str, ...]:
    """The rules that let ``viewer`` ``action`` the record at ``position``: each role whose
    level for it holds the record, then each share that widens it (``policy.scope``)."""
    out = []
    for role in viewer.roles:
        level = levels.level(role.level(key, action))
        why = level.match(viewer, position)
        if why is not None and why is not levels.UNKNOWN:
            rule = _(
                "Role %(role)s: %(action)s = %(level)s",
                role=access_names.shown(role.name, role.translations),
                action=str(policy.ACTION_LABELS[action]),
                level=str(level.label),
            )
            out.append(f"{rule} — {why}" if why else rule)
    if levels.SHARES.widens(levels.level(viewer.level(key, action)), action):
        for s in shares:
            why = levels.SHARES.match(viewer, s, action, position.names, access_words)
            if why is not None:
                out.append(why)
    return tuple(out)
