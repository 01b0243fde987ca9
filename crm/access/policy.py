"""The access policy: the only place that answers "may this user do this".

- ``can`` / ``require``: may ``user`` do ``action`` (on an entity, on one record)?
- ``scope``: the SQL condition limiting an entity table to the records ``user`` may
  ``action``; the scoped query layer (``crm.records.query``) applies it to every query.
- ``visible_fields``: the fields ``user`` may read or change.

A user's rights are the widest grant of each of their roles (``Rights``), kept by each
worker until the access stamp changes (database triggers move it with every change to the
tables rights are read from; see ``rights``). A full administrator (``User.is_admin``)
holds every right. Administration is its own right: a role may open the designer
(``can_configure``) or the access screens (``can_manage_access``) without any data right,
and the reverse.

Record scopes, per entity and action: none, own (``owner_id`` is me), own department (the
owner is in my department), department and below (the owner is in my department or any
department under it: a prefix match on the departments' materialized path, resolved in
SQL), all. Records shared with me, or with my department or one above it, add to "read"
(read or edit shares) and "edit" (edit shares) where the role grants that action at all:
as in the commercial CRMs, the entity-level right gates, sharing widens the record set.
Every action other than read also needs the record to be readable, and bulk edit needs
edit too: no one acts on what they cannot see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, false, or_, select, true

from crm.errors import Forbidden
from crm.metadata import types

CONFIGURE = "configure"
MANAGE_ACCESS = "manage_access"
ACTIONS = ("create", "read", "edit", "delete", "export", "import", "bulk_edit", "assign")
DATA_ACTIONS = frozenset(ACTIONS)
ACTION_LABELS = {
    "create": "Create",
    "read": "Read",
    "edit": "Edit",
    "delete": "Delete",
    "export": "Export",
    "import": "Import",
    "bulk_edit": "Bulk edit",
    "assign": "Assign owner",
}
# Actions whose scope is only "none or not": they are not about existing records.
UNSCOPED_ACTIONS = frozenset({"create", "import"})

NONE, OWN, DEPARTMENT, SUBTREE, ALL = 0, 1, 2, 3, 4
LEVELS = (NONE, OWN, DEPARTMENT, SUBTREE, ALL)
LEVEL_LABELS = {
    NONE: "None",
    OWN: "Own records",
    DEPARTMENT: "Own department",
    SUBTREE: "Department and below",
    ALL: "All records",
}
LEVEL_SHORT = {NONE: "—", OWN: "Own", DEPARTMENT: "Dept", SUBTREE: "Dept+", ALL: "All"}

HIDDEN, READ, EDIT = "hidden", "read", "edit"
FIELD_ACCESS = (HIDDEN, READ, EDIT)
FIELD_RANK = {HIDDEN: 0, READ: 1, EDIT: 2}
FIELD_LABELS = {HIDDEN: "Hidden", READ: "Read-only", EDIT: "Editable"}
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

    def level(self, entity_key: str, action: str) -> int:
        found = self.grants.get((entity_key, action))
        if found is None:
            found = self.grants.get((ANY_ENTITY, action), NONE)
        return found

    def field_access(self, entity_key: str, field_key: str) -> str:
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
        if self.is_admin:
            return ALL
        return max((r.level(entity_key, action) for r in self.roles), default=NONE)

    def field_access(self, entity_key: str, field_key: str) -> str:
        """The widest access among the roles that may read the entity at all."""
        if self.is_admin:
            return EDIT
        best = HIDDEN
        for r in self.roles:
            if r.level(entity_key, "read") > NONE:
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


def _subject(user: Any) -> Any:
    """The user behind flask-login's ``current_user`` proxy, resolved once: every attribute
    read through the proxy looks the user up again (hundreds of times on a page)."""
    resolve = getattr(user, "_get_current_object", None)
    return resolve() if resolve is not None else user


def _active(user: Any) -> bool:
    return (
        user is not None
        and bool(getattr(user, "is_authenticated", False))
        and bool(getattr(user, "is_active", False))
    )


def load_role_rights(role_ids: Iterable[int]) -> tuple[RoleRights, ...]:
    """The stored rules of the given roles (three small queries)."""
    from crm.access.models import FieldRight, Role, RoleGrant
    from crm.extensions import db

    ids = sorted(set(role_ids))
    if not ids:
        return ()
    roles = db.session.execute(
        select(Role.id, Role.name, Role.can_configure, Role.can_manage_access)
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

    user = _subject(user)
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


def _entity_key(entity: Any) -> str | None:
    return getattr(entity, "key", entity)


def can(user: Any, action: str, entity: Any = None, record: Any = None) -> bool:
    """True when ``user`` may do ``action``: on any record of ``entity``, or, with
    ``record`` (a mapping with ``id``, or an id), on that record."""
    if action not in DATA_ACTIONS and action not in (CONFIGURE, MANAGE_ACCESS):
        raise ValueError(f"Unknown action {action!r}")
    user = _subject(user)
    if not _active(user):
        return False
    r = rights(user)
    if action == CONFIGURE:
        return r.can_configure
    if action == MANAGE_ACCESS:
        return r.can_manage_access
    key = _entity_key(entity)
    if key is None:
        raise ValueError("A data action needs an entity.")
    if r.level(key, action) == NONE:
        return False
    if record is None:
        return True
    return _record_allowed(user, entity, action, record)


def _record_allowed(user: Any, entity: Any, action: str, record: Any) -> bool:
    from crm.extensions import db
    from crm.metadata import specs

    spec = entity if hasattr(entity, "key") else specs.current().entity(entity)
    if spec is None:
        return False
    table = specs.current().table(spec.key)
    record_id = record.get("id") if isinstance(record, Mapping) else record
    found = db.session.scalar(
        select(table.c.id).where(table.c.id == record_id, scope(user, spec, action, table))
    )
    return found is not None


def _decided(r: Rights, key: str, action: str, owner_id: Any) -> bool | None:
    """Whether the record owned by ``owner_id`` lies in ``action``'s own scope, where that
    is known without the database (None: departments or shares decide)."""
    level = r.level(key, action)
    if level == NONE:
        return False
    if level == ALL or owner_id == r.user_id:
        return True
    if action in ("read", "edit"):
        return None  # a share may widen it
    if level == OWN or r.department_id is None:
        return False
    return None


def _combined(r: Rights, key: str, action: str, owner_id: Any) -> bool | None:
    """``_decided`` for ``action`` and what it also needs (read; edit for bulk edit), as
    ``scope`` combines them: False wins, then unknown."""
    needed = [action, *(() if action == "read" else ("read",))]
    if action == "bulk_edit":
        needed.append("edit")
    answers = [_decided(r, key, a, owner_id) for a in needed]
    if False in answers:
        return False
    return None if None in answers else True


def allowed_on(user: Any, entity: Any, row: Mapping, actions: Iterable[str]) -> frozenset[str]:
    """The ``actions`` that ``user`` may do on one record already read (a mapping with
    ``id`` and ``owner_id``): what ``can(user, action, entity, row)`` answers for each, but
    without a query where the grant level and the owner decide it (all records, my own
    records) and with one query for the rest, however many they are."""
    from crm.extensions import db
    from crm.metadata import specs

    actions = tuple(actions)
    for action in actions:
        if action not in DATA_ACTIONS:
            raise ValueError(f"Unknown action {action!r}")
    user = _subject(user)
    if not _active(user):
        return frozenset()
    r = rights(user)
    if r.is_admin:
        return frozenset(actions)
    key = _entity_key(entity)
    answers = {a: _combined(r, key, a, row.get("owner_id")) for a in actions}
    open_ = [a for a, answer in answers.items() if answer is None]
    if open_:
        table = specs.current().table(key)
        columns = (case((scope(user, entity, a, table), 1), else_=0) for a in open_)
        found = db.session.execute(
            select(*columns).select_from(table).where(table.c.id == row["id"])
        ).first()
        for a, value in zip(open_, found or [0] * len(open_), strict=True):
            answers[a] = bool(value)
    return frozenset(a for a, answer in answers.items() if answer)


def require(user: Any, action: str, entity: Any = None, record: Any = None) -> None:
    """Raise ``Forbidden`` unless ``can(...)``."""
    if not can(user, action, entity, record):
        raise Forbidden()


def _owner_condition(level: int, r: Rights, table: Table) -> ColumnElement:
    from crm.access.models import Department, User

    owner = table.c.owner_id
    if level >= ALL:
        return true()
    if level <= NONE:
        return false()
    if level == OWN or r.department_id is None:
        return owner == r.user_id
    if level == DEPARTMENT:
        members = select(User.id).where(User.department_id == r.department_id)
    else:
        members = (
            select(User.id)
            .join(Department, User.department_id == Department.id)
            .where(Department.path.startswith(r.department_path or "/-/"))
        )
    return or_(owner == r.user_id, owner.in_(members.scalar_subquery()))


def _share_condition(r: Rights, entity_key: str, table: Table, *, edit: bool) -> ColumnElement:
    from crm.access.models import RecordShare

    targets = [RecordShare.user_id == r.user_id]
    if r.department_chain:
        targets.append(RecordShare.department_id.in_(r.department_chain))
    shared = select(RecordShare.record_id).where(
        RecordShare.entity_key == entity_key, or_(*targets)
    )
    if edit:
        shared = shared.where(RecordShare.access == "edit")
    return table.c.id.in_(shared.scalar_subquery())


def _action_condition(r: Rights, key: str, action: str, table: Table) -> ColumnElement:
    level = r.level(key, action)
    condition = _owner_condition(level, r, table)
    if action in ("read", "edit") and NONE < level < ALL:
        condition = or_(condition, _share_condition(r, key, table, edit=action == "edit"))
    return condition


def scope(user: Any, entity: Any, action: str, table: Table) -> ColumnElement:
    """The SQL condition limiting ``table`` (``entity``'s table) to the records ``user``
    may ``action``. Every record query applies it (``crm.records.query.scoped``)."""
    if action not in DATA_ACTIONS:
        raise ValueError(f"Unknown action {action!r}")
    user = _subject(user)
    if not _active(user):
        return false()
    return rights_scope(rights(user), _entity_key(entity), action, table)


def rights_scope(r: Rights, key: str, action: str, table: Table) -> ColumnElement:
    """``scope`` for rights already at hand (``r``), e.g. to compare two users' reach."""
    if r.is_admin:
        return true()
    condition = _action_condition(r, key, action, table)
    if action != "read":
        condition = and_(condition, _action_condition(r, key, "read", table))
    if action == "bulk_edit":
        condition = and_(condition, _action_condition(r, key, "edit", table))
    return condition


def field_access(user: Any, entity: Any, field_key: str) -> str:
    """ "hidden", "read" or "edit" for one field of ``entity``."""
    user = _subject(user)
    if not _active(user):
        return HIDDEN
    return rights(user).field_access(_entity_key(entity), field_key)


def visible_fields(user: Any, entity: Any, mode: str = "read") -> tuple:
    """The active fields of ``entity`` that ``user`` may see (``mode="read"``) or change
    (``mode="edit"``). Hidden fields are in neither; auto-numbers are never editable."""
    if mode not in ("read", "edit"):
        raise ValueError(f"Unknown mode {mode!r}")
    user = _subject(user)
    if not _active(user):
        return ()
    r = rights(user)

    def work_out() -> tuple:
        fields = tuple(entity.active_fields)
        if not r.is_admin:
            wanted = 1 if mode == "read" else 2
            fields = tuple(
                f for f in fields if FIELD_RANK[r.field_access(entity.key, f.key)] >= wanted
            )
        if mode == "edit":
            # Values the system assigns (auto-numbers) are never edited.
            fields = tuple(f for f in fields if not types.get(f.type).assigned)
        return fields

    return remembered(user, ("visible_fields", entity.key, mode), entity, work_out)


def remembered(user: Any, key: tuple, spec: Any, work_out: Callable[[], Any]) -> Any:
    """A value worked out from ``user``'s rights and one compiled ``spec`` object, kept
    with the rights (so once per worker until rights or metadata change) and given back
    only for that very object: a new metadata version compiles new spec objects. The
    value must be immutable: every caller shares it."""
    memo = rights(user).memo
    found = memo.get(key)
    if found is not None and found[0] is spec:
        return found[1]
    value = work_out()
    memo[key] = (spec, value)
    return value
