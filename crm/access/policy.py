"""The access policy: the only place that answers "may this user do this".

- ``can`` / ``require``: may ``user`` do ``action`` (on an entity, on one record)?
- ``scope``: the SQL condition limiting an entity table to the records ``user`` may
  ``action``; the scoped query layer (``crm.records.query``) applies it to every query.
- ``visible_fields``: the fields ``user`` may read or change.

A user's rights are the widest grant of each of their roles (``Rights``), kept by each
worker until the access stamp changes (database triggers move it with every change to the
tables rights are read from; ``crm.access.rights``, re-exported here). A full
administrator (``User.is_admin``) holds every right. Administration is its own right: a
role may open the designer (``can_configure``) or the access screens
(``can_manage_access``) without any data right, and the reverse.

Record scopes, per entity and action: none, own (``owner_id`` is me), own department (the
owner is in my department), department and below (the owner is in my department or any
department under it: a prefix match on the departments' materialized path, resolved in
SQL), all. Records shared with me, or with my department or one above it, add to "read"
(read or edit shares) and "edit" (edit shares) where the role grants that action at all:
as in the commercial CRMs, the entity-level right gates, sharing widens the record set.
The records of a customer pool (no owner) add to "read" for whoever sees the pool, at the
same levels as shares (``crm.pools.scope``). Every action other than read also needs the
record to be readable, and bulk edit needs edit too: no one acts on what they cannot see.
The levels and the share rule are stated once, in ``crm.access.levels``: the SQL here, the
query-free shortcut of ``allowed_on``, the "who can see this" panel and the no-escalation
rule all derive from those entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Table, and_, case, event, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from crm.access import levels
from crm.access.levels import (  # noqa: F401 - the level constants are the policy's too
    ALL,
    DEPARTMENT,
    LEVEL_LABELS,
    LEVEL_SHORT,
    LEVELS,
    NONE,
    OWN,
    SHARES,
    SUBTREE,
    Position,
)
from crm.access.rights import (  # noqa: F401 - the policy's API: callers ask the policy
    ANY_ENTITY,
    EDIT,
    FIELD_ACCESS,
    FIELD_LABELS,
    FIELD_RANK,
    HIDDEN,
    READ,
    Rights,
    RoleRights,
    forget,
    load_role_rights,
    rights,
)
from crm.access.rights import subject as _subject
from crm.errors import Forbidden
from crm.metadata import types

CONFIGURE = "configure"
MANAGE_ACCESS = "manage_access"
ACTIONS = ("create", "read", "edit", "delete", "export", "import", "bulk_edit", "assign")
DATA_ACTIONS = frozenset(ACTIONS)
ACTION_LABELS = {
    "create": _l("Create"),
    "read": _l("Read"),
    "edit": _l("Edit"),
    "delete": _l("Delete"),
    "export": _l("Export"),
    "import": _l("Import"),
    "bulk_edit": _l("Bulk edit"),
    "assign": _l("Assign owner"),
}
# Actions whose scope is only "none or not": they are not about existing records.
UNSCOPED_ACTIONS = frozenset({"create", "import"})
# Whether the feature behind each action exists yet. The role editor offers only the
# available ones; grants already stored for the others stay as they are (a role keeps its
# "import" right for the day imports arrive). Mark an action available when its feature
# ships: that is the one change the matrix needs.
ACTION_AVAILABLE = {action: True for action in ACTIONS}
AVAILABLE_ACTIONS = tuple(a for a in ACTIONS if ACTION_AVAILABLE[a])


def _active(user: Any) -> bool:
    return (
        user is not None
        and bool(getattr(user, "is_authenticated", False))
        and bool(getattr(user, "is_active", False))
    )


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


def _needed(action: str) -> tuple[str, ...]:
    """``action`` and what it also needs: reading (no one acts on what they cannot see),
    and editing for bulk edit."""
    if action == "read":
        return ("read",)
    if action == "bulk_edit":
        return (action, "read", "edit")
    return (action, "read")


def _decided(r: Rights, key: str, action: str, position: Position) -> bool | None:
    """Whether the record at ``position`` lies in ``action``'s own scope, where the level
    knows without the database (None: the owner's department or a share decides)."""
    level = levels.level(r.level(key, action))
    inside = level.admits(r, position)
    if inside is False and SHARES.widens(level, action):
        return None  # a share may widen it
    return inside


def _combined(r: Rights, key: str, action: str, position: Position) -> bool | None:
    """``_decided`` for ``action`` and what it also needs (``_needed``), as ``scope``
    combines them: False wins, then unknown."""
    answers = [_decided(r, key, a, position) for a in _needed(action)]
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
    position = Position(row.get("owner_id"), row=row)  # the owner's department unread
    answers = {a: _combined(r, key, a, position) for a in actions}
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


def may_see_job(user: Any, created_by: int | None) -> bool:
    """True when ``user`` may follow a background job: the user who started it, or an
    administrator (a job's payload and outcome can tell what its creator did)."""
    user = _subject(user)
    if not _active(user):
        return False
    return bool(getattr(user, "is_admin", False)) or (
        created_by is not None and created_by == getattr(user, "id", None)
    )


def require(user: Any, action: str, entity: Any = None, record: Any = None) -> None:
    """Raise ``Forbidden`` unless ``can(...)``."""
    if not can(user, action, entity, record):
        raise Forbidden()


_SHARED_KEY = "atelier_shares_seen"  # on ``g``: (user, entity) -> the accesses shared


def _shares_widen(r: Rights, key: str, action: str) -> bool:
    """Whether any share on ``key`` widens ``action`` for ``r``'s user: the level's
    condition then needs the share branch, else it stands alone (and a list walks the
    owner index in order). Kept for the request, and with the rights between requests
    while the share stamp stands (``_shares_reaching``); any write through the session
    forgets the request's copy and the stamps (``_forget_shares_seen``)."""
    seen = g.setdefault(_SHARED_KEY, {}) if has_request_context() else {}
    accesses = seen.get((r.user_id, key))
    if accesses is None:
        accesses = seen[(r.user_id, key)] = _shares_reaching(r, key)
    return SHARES.counts(action, accesses)


def _shares_reaching(r: Rights, key: str) -> frozenset:
    """The accesses of the shares reaching ``r``'s user on ``key``: one indexed query,
    remembered in ``r.memo`` under the share stamp (``meta_version.share_stamp``, which
    triggers move with every change to ``record_shares``, migration 0012). Only the
    latest stamp's answers are kept."""
    from crm.extensions import db
    from crm.metadata import specs

    stamp = specs.share_stamp()
    kept = r.memo.get("shares_seen")
    if kept is None or kept[0] != stamp:
        kept = r.memo["shares_seen"] = (stamp, {})
    accesses = kept[1].get(key)
    if accesses is None:
        query = SHARES.reaching(r, key, "access").distinct()
        accesses = kept[1][key] = frozenset(db.session.scalars(query))
    return accesses


def _forget_shares_seen(*_args: Any) -> None:
    if has_request_context():
        g.pop(_SHARED_KEY, None)
        from crm.metadata import specs

        specs.forget_access_stamp()  # the triggers may have moved the stamps: read again


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: Any) -> None:
    if not state.is_select:  # an insert, update or delete may add or remove a share
        _forget_shares_seen()


event.listen(Session, "after_flush", _forget_shares_seen)
event.listen(Session, "after_rollback", _forget_shares_seen)


def _built(r: Rights, what: tuple, table: Table, work_out: Callable[[], Any]) -> Any:
    """SQL built from ``r`` alone for ``table``, kept with the rights (once per worker until
    rights or metadata change: a new metadata version makes new table objects). Building
    it anew costs more than reading the page it limits."""
    found = r.memo.get(what)
    if found is not None and found[0] is table:
        return found[1]
    value = work_out()
    r.memo[what] = (table, value)
    return value


def _share_condition(r: Rights, key: str, action: str, table: Table) -> ColumnElement | None:
    """The share branch of ``action``'s condition, or None when shares add nothing."""
    level = levels.level(r.level(key, action))
    if not SHARES.widens(level, action) or not _shares_widen(r, key, action):
        return None
    return _built(
        r,
        ("share_condition", key, action),
        table,
        lambda: SHARES.condition(r, key, action, table),
    )


def _pools_seen(r: Rights, key: str, action: str) -> tuple[int, ...]:
    """The customer pools whose records widen ``action`` for ``r``'s user: reading only,
    where the level lets widening count (as shares: not at none, where the entity right
    gates, nor at all), the enabled pools of ``key`` they see (``crm.pools.spec``)."""
    if action != "read" or not levels.level(r.level(key, action)).shares_widen:
        return ()
    from crm.pools import spec as pools

    return pools.visible_ids(r, key)


def _widening(r: Rights, key: str, action: str, table: Table) -> tuple[ColumnElement | None, Any]:
    """What widens ``action``'s level for ``r``: shares and the records of the pools they
    see, as one condition (None: nothing), and a key telling which (for ``_built``)."""
    shared = _share_condition(r, key, action, table)
    # Kept with the rights per table object: a pool change bumps the metadata version,
    # which makes new tables, so no request (or job) reads the pools more than once.
    pools = _built(r, ("pools_seen", key, action), table, lambda: _pools_seen(r, key, action))
    if not pools:
        return shared, shared is not None
    from crm.pools import scope as pool_scope

    pooled = _built(
        r, ("pool_condition", key, pools), table, lambda: pool_scope.condition(key, pools, table)
    )
    return (pooled if shared is None else or_(shared, pooled)), (shared is not None, pools)


def _action_condition(r: Rights, key: str, action: str, table: Table) -> ColumnElement:
    widened, seen = _widening(r, key, action, table)

    def work_out() -> ColumnElement:
        condition = levels.level(r.level(key, action)).condition(r, table)
        return condition if widened is None else or_(condition, widened)

    return _built(r, ("action_condition", key, action, seen), table, work_out)


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
    first, *more = (_action_condition(r, key, a, table) for a in _needed(action))
    return and_(first, *more) if more else first


def scope_branches(user: Any, entity: Any, action: str, table: Table) -> tuple[ColumnElement, ...]:
    """``scope`` as disjoint conditions whose union is the scope: a record meets at most
    one. One condition (``scope`` itself) unless shares widen the user's level; then two:
    the level's own records (e.g. ``owner_id = :me``, which an owner index answers in
    order) and the shared records the level does not reach. A list reads each in index
    order, cut to a page, and merges them (``crm.records.query.scoped_branches``)."""
    if action not in DATA_ACTIONS:
        raise ValueError(f"Unknown action {action!r}")
    user = _subject(user)
    if not _active(user):
        return (false(),)
    r = rights(user)
    key = _entity_key(entity)
    if r.is_admin:
        return (true(),)
    shared, _seen = _widening(r, key, action, table)
    if shared is None:
        return (rights_scope(r, key, action, table),)

    def work_out() -> tuple[ColumnElement, ...]:
        own = levels.level(r.level(key, action)).condition(r, table)
        rest = [_action_condition(r, key, a, table) for a in _needed(action) if a != action]
        # NOT own, where own is NULL (no owner) counts as not own: no record is in both.
        not_own = not_(func.coalesce(own, false()))
        return (and_(own, *rest), and_(shared, not_own, *rest))

    # Keyed by what the other actions' share checks found too (``rest`` holds them).
    seen = tuple(_widening(r, key, a, table)[1] for a in _needed(action))
    return _built(r, ("scope_branches", key, action, seen), table, work_out)


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
            # Values the system assigns (auto-numbers, a probability that follows the
            # stage: ``crm.pipelines.compile``) are never edited.
            fields = tuple(
                f
                for f in fields
                if not types.get(f.type).assigned and not f.option("follows_stage")
            )
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
