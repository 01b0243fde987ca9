"""Record scopes, stated once: the scope levels and the share rule.

A grant gives a role, per entity and action, a scope level: which records it reaches,
relative to the user who holds it. Each level is one ``ScopeLevel`` entry in this module's
table, and everything that reasons about levels derives from that entry:

- ``condition(viewer, table)``: the SQL condition (``policy.scope``, the scoped queries);
- ``match(viewer, position)``: the same rule in Python for one record whose owner (and
  the owner's department, when known) is at hand: why the record is in scope, in words
  ("owns it", "owner is in Sales East, below Sales"; "" when no reason needs giving), None
  when it is not, ``UNKNOWN`` when the position lacks what the level needs. The policy's
  query-free shortcut (``policy.allowed_on``) and the "who can see this and why" panel
  (``crm.records.who_can_see``) both ask it;
- ``reach(viewer)``: for levels relative to the holder's department, the departments it
  reaches (``Reach``), from which ``department_level`` builds both of the above and which
  the no-escalation rule (``crm.access.rules``) compares between two users.

Levels are nested: each reaches at least what every narrower level (lower ``rank``)
reaches, for the same user. That is what lets a user's rights keep only the widest grant
of their roles (``policy.Rights.level``) and lets one level be "more" than another.
``value`` is what ``role_grants.level`` stores and never changes; ``rank`` orders levels
by breadth, so a level added later can sit between two existing ones.

Adding a level: one entry (in ``BUILT_IN``, or a ``register`` call; ``department_level``
builds one from a ``Reach``), and a migration widening the CHECK on ``role_grants.level``
to its value. The policy, the roles service and its forms, the panel and the
no-escalation rule need nothing more; ``tests/access/test_levels.py`` adds one in the
test only. (The role matrix greys out levels above the manager's own by comparing stored
values, ``templates/access/_matrix.html``: right while values follow breadth.)

Shares (``SHARES``) are the one rule that is not a level: a record shared with a user, or
with their department or one above it, widens "read" (read or edit shares) and "edit"
(edit shares) where the user's level for that action lets shares count (above none,
below all: the entity-level right gates sharing, and "all" needs no widening).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Table, false, or_, select, true


class Viewer(Protocol):
    """Who a level is relative to (``policy.Rights`` is one)."""

    user_id: int
    department_id: int | None
    department_path: str | None

    @property
    def department_chain(self) -> tuple[int, ...]: ...


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


# A match that needs what the position does not hold (the owner's department): ask SQL.
UNKNOWN: Any = _Unknown()
# A department path no department has: "department and below" for someone whose department
# has no path reaches no one else.
NO_PATH = "/-/"


@dataclass(frozen=True)
class Position:
    """Where a record stands for a level: its owner, the owner's department (a row with
    ``id`` and ``path``; None without one; ``UNKNOWN`` when not read), department names
    by id for the reasons' words, and the record itself (levels may look at more than the
    owner)."""

    owner_id: int | None
    owner_department: Any = UNKNOWN
    names: Mapping[int, str] = field(default_factory=dict)
    row: Mapping[str, Any] | None = None

    def name(self, department_id: int | None) -> str:
        return self.names.get(department_id, "?") if department_id is not None else "?"


@dataclass(frozen=True)
class Reach:
    """The departments a department-relative level reaches: the one with ``department_id``
    (whose path is ``path``), and with ``below`` every department under it too."""

    department_id: int | None
    path: str
    below: bool

    def holds(self, department: Any) -> bool:
        """Whether ``department`` (a row with ``id`` and ``path``) is within reach."""
        if self.below:
            return department.path.startswith(self.path)
        return department.id == self.department_id

    def covers(self, other: Reach) -> bool:
        """Whether every department ``other`` reaches is within this reach."""
        if self.below:
            return other.path.startswith(self.path)
        return not other.below and other.department_id == self.department_id

    def members(self) -> Any:
        """The ids of the users in reach, as a SQL subquery."""
        from crm.access.models import Department, User

        users, departments = User.__table__.c, Department.__table__.c  # Core: see ``shared``
        if not self.below:
            return select(users.id).where(users.department_id == self.department_id)
        return (
            select(users.id)
            .join(Department.__table__, users.department_id == departments.id)
            .where(departments.path.startswith(self.path))
        )


@dataclass(frozen=True)
class ScopeLevel:
    """One scope level: see the module docstring. ``shares_widen``: whether shares count
    on top of it (not at none, where the entity right gates them, nor at all).
    ``department_relative``: whether what it reaches depends on the holder's department
    (the no-escalation rule then checks where a user is placed). ``label`` and ``short``
    are read in the language of the page showing them (lazy strings for built-in levels;
    a plain ``str`` works too)."""

    value: int
    key: str
    label: Any
    short: Any
    rank: float
    condition: Callable[[Viewer, Table], ColumnElement]
    match: Callable[[Viewer, Position], str | None]
    reach: Callable[[Viewer], Reach] | None = None
    shares_widen: bool = True
    department_relative: bool = False

    def admits(self, viewer: Viewer, position: Position) -> bool | None:
        """True or False: whether the record at ``position`` is in scope; None: unknown."""
        found = self.match(viewer, position)
        if found is UNKNOWN:
            return None
        return found is not None


def owns_it() -> str:
    """The reason an owner reaches their record, in the request's language."""
    return _("owns it")


def _owns(viewer: Viewer, position: Position) -> bool:
    return position.owner_id is not None and position.owner_id == viewer.user_id


def department_level(
    value: int, key: str, label: Any, short: Any, rank: float, reach: Callable[[Viewer], Reach]
) -> ScopeLevel:
    """A level reaching my own records and those owned by the members of the departments
    ``reach`` gives for me; a user without a department reaches only their own records."""

    def condition(viewer: Viewer, table: Table) -> ColumnElement:
        owner = table.c.owner_id
        if viewer.department_id is None:
            return owner == viewer.user_id
        # The viewer is one of the members (their own department is in reach), so no
        # "owner = me OR": SQLite would answer that OR with a multi-index OR and sort every
        # reached record, where the IN alone walks the owner index (38 ms → 0.07 ms on the
        # list benchmark's data).
        return owner.in_(reach(viewer).members().scalar_subquery())

    def match(viewer: Viewer, position: Position) -> str | None:
        if _owns(viewer, position):
            return owns_it()
        if viewer.department_id is None:
            return None
        department = position.owner_department
        if department is UNKNOWN:
            return UNKNOWN
        if department is None:
            return None  # no owner, or an owner without a department
        found = reach(viewer)
        if not found.holds(department):
            return None
        name = position.name(department.id)
        if department.id in (viewer.department_id, found.department_id):
            return _("owner is in %(department)s", department=name)
        return _(
            "owner is in %(department)s, below %(above)s",
            department=name,
            above=position.name(found.department_id),
        )

    return ScopeLevel(
        value, key, label, short, rank, condition, match, reach, department_relative=True
    )


def _my_department(viewer: Viewer) -> Reach:
    return Reach(viewer.department_id, viewer.department_path or NO_PATH, below=False)


def _my_subtree(viewer: Viewer) -> Reach:
    return Reach(viewer.department_id, viewer.department_path or NO_PATH, below=True)


NONE, OWN, DEPARTMENT, SUBTREE, ALL = 0, 1, 2, 3, 4

BUILT_IN = (
    ScopeLevel(
        NONE, "none", _l("None"), "—", 0,
        condition=lambda viewer, table: false(),
        match=lambda viewer, position: None,
        shares_widen=False,
    ),
    ScopeLevel(
        OWN, "own", _l("Own records"), _l("Own"), 1,
        condition=lambda viewer, table: table.c.owner_id == viewer.user_id,
        match=lambda viewer, position: owns_it() if _owns(viewer, position) else None,
    ),
    department_level(
        DEPARTMENT, "department", _l("Own department"), _l("Dept"), 2, _my_department
    ),
    department_level(
        SUBTREE, "subtree", _l("Department and below"), _l("Dept+"), 3, _my_subtree
    ),
    ScopeLevel(
        ALL, "all", _l("All records"), _l("All"), 4,
        condition=lambda viewer, table: true(),
        match=lambda viewer, position: "",
        shares_widen=False,
    ),
)  # fmt: skip

_table: dict[int, ScopeLevel] = {}
_rank: dict[int, float] = {}
# Kept up to date in place by ``register``: ``policy`` re-exports them, and screens and
# forms read them (the order is by breadth).
LEVEL_LABELS: dict[int, Any] = {}
LEVEL_SHORT: dict[int, Any] = {}


class _Values(Sequence[int]):
    """The values of the registered levels, narrowest first: a live view of the table."""

    def __getitem__(self, index):  # type: ignore[override]
        return tuple(LEVEL_LABELS)[index]

    def __len__(self) -> int:
        return len(LEVEL_LABELS)

    def __contains__(self, value: object) -> bool:
        return value in _table

    def __iter__(self) -> Iterator[int]:
        return iter(tuple(LEVEL_LABELS))

    def __repr__(self) -> str:
        return f"LEVELS{tuple(self)!r}"


LEVELS: Sequence[int] = _Values()


def _rebuild() -> None:
    ordered = sorted(_table.values(), key=lambda lv: lv.rank)
    _rank.clear()
    _rank.update((lv.value, lv.rank) for lv in ordered)
    LEVEL_LABELS.clear()
    LEVEL_LABELS.update((lv.value, lv.label) for lv in ordered)
    LEVEL_SHORT.clear()
    LEVEL_SHORT.update((lv.value, lv.short) for lv in ordered)


def register(level: ScopeLevel) -> None:
    """Add a scope level. Raises ``ValueError`` when its value, key or rank is taken."""
    for other in _table.values():
        if level.value == other.value or level.key == other.key or level.rank == other.rank:
            raise ValueError(f"Scope level {level.key!r} clashes with {other.key!r}.")
    _table[level.value] = level
    _rebuild()


def unregister(value: int) -> None:
    """Remove the level stored as ``value`` (a level added for a while, e.g. by a test)."""
    _table.pop(value, None)
    _rebuild()


@contextmanager
def registered(level: ScopeLevel) -> Iterator[ScopeLevel]:
    """``level`` registered for the duration of the block."""
    register(level)
    try:
        yield level
    finally:
        unregister(level.value)


for _built_in in BUILT_IN:
    register(_built_in)


def level(value: int) -> ScopeLevel:
    """The level stored as ``value``. A value no level has (only a hand-edited database
    holds one) reaches nothing: refusing is the safe reading."""
    return _table.get(value) or _table[NONE]


def rank(value: int) -> float:
    """How wide the level stored as ``value`` is (an unknown value is as wide as none)."""
    return _rank.get(value, 0)


def widest(values: Iterable[int]) -> int:
    """The widest of these levels (none for none at all)."""
    return max(values, key=rank, default=NONE)


def wider(a: int, b: int) -> bool:
    """Whether level ``a`` reaches beyond level ``b``."""
    return rank(a) > rank(b)


@dataclass(frozen=True)
class ShareRule:
    """Shares: which share accesses widen which action, and whom a share reaches (the user
    it names; a department's members and the members of every department below it)."""

    widening: Mapping[str, frozenset[str]]

    def widens(self, scope_level: ScopeLevel, action: str) -> bool:
        """Whether shares add to ``action`` for a holder of ``scope_level``."""
        return action in self.widening and scope_level.shares_widen

    def counts(self, action: str, accesses: Iterable[str]) -> bool:
        """Whether a share with one of ``accesses`` ("read", "edit") widens ``action``."""
        return not self.widening.get(action, frozenset()).isdisjoint(accesses)

    def access_condition(self, action: str) -> ColumnElement | None:
        """SQL on ``record_shares``: the share's access widens ``action`` (None: any does)."""
        from crm.access.models import RecordShare

        accesses = self.widening[action]
        access = RecordShare.__table__.c.access
        # Shares are "read" or "edit" (a CHECK constraint): both need no condition.
        if accesses >= frozenset(("read", "edit")):
            return None
        if len(accesses) == 1:
            return access == next(iter(accesses))
        return access.in_(sorted(accesses))

    def reaching(self, viewer: Viewer, entity_key: str, column: str = "record_id") -> Any:
        """SQL: ``SELECT <column>`` of the shares of ``entity_key`` that reach ``viewer``
        (made with them, their department or one above it), whatever their access."""
        from crm.access.models import RecordShare

        # The table's columns, not the ORM entity's: a Core statement skips the ORM's
        # compile step on every list page.
        shares = RecordShare.__table__.c
        targets = [shares.user_id == viewer.user_id]
        if viewer.department_chain:
            targets.append(shares.department_id.in_(viewer.department_chain))
        return select(shares[column]).where(shares.entity_key == entity_key, or_(*targets))

    def shared(self, viewer: Viewer, entity_key: str, action: str) -> Any:
        """SQL: ``SELECT record_id`` of the shares of ``entity_key`` that widen ``action``
        for ``viewer``."""
        shared = self.reaching(viewer, entity_key)
        access = self.access_condition(action)
        if access is not None:
            shared = shared.where(access)
        return shared

    def condition(self, viewer: Viewer, entity_key: str, action: str, table: Table) -> Any:
        """SQL: the record is shared with ``viewer`` for ``action``."""
        return table.c.id.in_(self.shared(viewer, entity_key, action).scalar_subquery())

    def match(
        self,
        viewer: Viewer,
        share: Any,
        action: str,
        names: Mapping[int, str],
        words: Callable[[str], str],
    ) -> str | None:
        """Why ``share`` (a row with ``user_id``, ``department_id``, ``access`` and ``by``,
        the name of who made it) lets ``viewer`` ``action`` the record, in words (``words``
        puts an access into them), or None when it does not."""
        if share.access not in self.widening.get(action, ()):
            return None
        how = words(share.access)
        if share.user_id is not None and share.user_id == viewer.user_id:
            if share.by:
                return _("Shared with them by %(name)s (%(access)s)", name=share.by, access=how)
            return _("Shared with them (%(access)s)", access=how)
        if share.department_id is not None and share.department_id in viewer.department_chain:
            department = names.get(share.department_id, "?")
            if share.department_id == viewer.department_id:
                return _(
                    "Shared with department %(department)s (%(access)s)",
                    department=department,
                    access=how,
                )
            return _(
                "Shared with department %(department)s (%(access)s) — they are in %(own)s,"
                " below it",
                department=department,
                access=how,
                own=names.get(viewer.department_id, "?"),
            )
        return None


SHARES = ShareRule({"read": frozenset(("read", "edit")), "edit": frozenset(("edit",))})
