"""A user's rights: what their roles grant, read once and kept.

``Rights`` is the widest grant of each of a user's roles (``RoleRights``), with their
department; a full administrator (``User.is_admin``) holds every right. ``rights(user)``
keeps them per worker until the access stamp changes (database triggers move it with
every change to the tables rights are read from) and once per request on ``g``;
``forget`` drops them after a change in the same request. The access policy
(``crm.access.policy``) re-exports all of this: callers ask it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm.access import levels
from crm.access.levels import ALL, NONE

HIDDEN, READ, EDIT = "hidden", "read", "edit"
FIELD_ACCESS = (HIDDEN, READ, EDIT)
FIELD_RANK = {HIDDEN: 0, READ: 1, EDIT: 2}
FIELD_LABELS = {HIDDEN: _l("Hidden"), READ: _l("Read-only"), EDIT: _l("Editable")}
ANY_ENTITY = "*"


@dataclass(frozen=True)
class RoleRights:
    """One role's rules, as stored."""

    id: int
    name: str
    can_configure: bool = False
    can_manage_access: bool = False
    grants: Mapping[tuple[str, str], int] = field(default_factory=dict)
    fields: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # The name's translations ({"name": {locale: text}}), for pages that name the role.
    translations: Mapping[str, Any] = field(default_factory=dict)

    def level(self, entity_key: str, action: str) -> int:
        """The stored level for ``action`` on the entity, else the role's "*" one."""
        found = self.grants.get((entity_key, action))
        if found is None:
            found = self.grants.get((ANY_ENTITY, action), NONE)
        return found

    def field_access(self, entity_key: str, field_key: str) -> str:
        """ "hidden", "read" or "edit" (the default) for one field."""
        return self.fields.get((entity_key, field_key), EDIT)


@dataclass(frozen=True)
class Rights:
    """What one user may do: the widest grant of each of their roles."""

    user_id: int
    is_admin: bool
    department_id: int | None
    department_path: str | None
    roles: tuple[RoleRights, ...] = ()
    # Values worked out from these rights for one compiled spec object (``remembered``).
    memo: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def can_configure(self) -> bool:
        return self.is_admin or any(r.can_configure for r in self.roles)

    @property
    def can_manage_access(self) -> bool:
        return self.is_admin or any(r.can_manage_access for r in self.roles)

    def level(self, entity_key: str, action: str) -> int:
        """The widest level of the roles for ``action`` (by breadth: ``levels.widest``)."""
        if self.is_admin:
            return ALL
        return levels.widest(r.level(entity_key, action) for r in self.roles)

    def field_access(self, entity_key: str, field_key: str) -> str:
        """The widest access among the roles that may read the entity at all."""
        if self.is_admin:
            return EDIT
        best = HIDDEN
        for r in self.roles:
            if r.level(entity_key, "read") != NONE:
                access = r.field_access(entity_key, field_key)
                if FIELD_RANK[access] > FIELD_RANK[best]:
                    best = access
        return best

    @property
    def department_chain(self) -> tuple[int, ...]:
        """My department and every department above it (ids from the materialized path)."""
        if not self.department_path:
            return ()
        return tuple(int(p) for p in self.department_path.strip("/").split("/") if p)


def subject(user: Any) -> Any:
    """The user behind flask-login's ``current_user`` proxy, resolved once: every attribute
    read through the proxy looks the user up again (hundreds of times on a page)."""
    resolve = getattr(user, "_get_current_object", None)
    return resolve() if resolve is not None else user


def load_role_rights(role_ids: Iterable[int]) -> tuple[RoleRights, ...]:
    """The stored rules of the given roles (three small queries)."""
    from crm.access.models import FieldRight, Role, RoleGrant
    from crm.extensions import db

    ids = sorted(set(role_ids))
    if not ids:
        return ()
    roles = db.session.execute(
        select(Role.id, Role.name, Role.can_configure, Role.can_manage_access, Role.translations)
        .where(Role.id.in_(ids))
        .order_by(Role.name)
    ).all()
    grants: dict[int, dict] = {i: {} for i in ids}
    for role_id, entity_key, action, level in db.session.execute(
        select(RoleGrant.role_id, RoleGrant.entity_key, RoleGrant.action, RoleGrant.level).where(
            RoleGrant.role_id.in_(ids)
        )
    ):
        grants[role_id][(entity_key, action)] = level
    fields: dict[int, dict] = {i: {} for i in ids}
    for role_id, entity_key, field_key, access in db.session.execute(
        select(
            FieldRight.role_id, FieldRight.entity_key, FieldRight.field_key, FieldRight.access
        ).where(FieldRight.role_id.in_(ids))
    ):
        fields[role_id][(entity_key, field_key)] = access
    return tuple(
        RoleRights(
            id=r.id,
            name=r.name,
            can_configure=r.can_configure,
            can_manage_access=r.can_manage_access,
            grants=grants[r.id],
            fields=fields[r.id],
            translations=r.translations if isinstance(r.translations, dict) else {},
        )
        for r in roles
    )


def _load_rights(user: Any) -> Rights:
    from crm.access.models import Department, user_roles
    from crm.extensions import db

    department_path = None
    if user.department_id is not None:
        department_path = db.session.scalar(
            select(Department.path).where(Department.id == user.department_id)
        )
    if user.is_admin:
        return Rights(user.id, True, user.department_id, department_path)
    role_ids = db.session.scalars(
        select(user_roles.c.role_id).where(user_roles.c.user_id == user.id)
    ).all()
    return Rights(user.id, False, user.department_id, department_path, load_role_rights(role_ids))


class _RightsCache:
    """Users' rights kept by one worker between requests, keyed by the access stamp that
    database triggers change with every change to the tables they are read from
    (``crm.metadata.specs.read_versions``, read once per request with the metadata
    version). Bounded: emptied when full."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self.entries: dict[tuple, Rights] = {}

    def get(self, key: tuple, user: Any) -> Rights:
        found = self.entries.get(key)
        if found is None:
            found = _load_rights(user)
            if len(self.entries) >= self.LIMIT:
                self.entries.clear()
            self.entries[key] = found
        return found


def _worker_cache() -> _RightsCache:
    from flask import current_app

    return current_app.extensions.setdefault("atelier_rights", _RightsCache())


def rights(user: Any) -> Rights:
    """``user``'s rights: kept by the worker while the access stamp stays the same, and
    once per request on ``g`` (``forget`` after changing them in the same request)."""
    from flask import g, has_app_context

    from crm.metadata import specs

    user = subject(user)
    if not has_app_context():
        return _load_rights(user)
    cache = g.setdefault("_rights", {})
    key = (user.id, user.is_admin, user.department_id)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _worker_cache().get((*key, specs.access_stamp()), user)
    return found


def forget() -> None:
    """Drop the rights read in this request (after roles, grants or departments change):
    the next question reads the access stamp again, which the change has moved."""
    from flask import g, has_app_context

    from crm.metadata import specs

    if has_app_context():
        g.pop("_rights", None)
        specs.forget_access_stamp()
