"""Fields of related records in a report: a report on deals may group by, filter on and
measure a field of the account each deal's lookup points to (one hop), named
``<lookup>.<field>`` ("account.industry").

What the viewer may use: the lookup must be a field they may read, its target an entity
they may read, and the related field one they may read there (``definition.readable``).
Anything else is refused with the same words as an unknown field.

How the related side is read: each lookup used is joined (left outer) to a subquery of
its target built on the scoped query layer (``crm.records.query.scoped``) for the same
viewer, so a related record they may not read contributes no value at all:

- grouped by one of its fields, such a record's deals fall under "(not visible)", one
  group of its own (the deals are the viewer's to count, the account's values are not
  theirs to see), apart from "(empty)" (no account, or an account without the value);
- a filter on a related field keeps only deals whose related record the viewer may read
  and which matches, whatever the condition (even "is empty");
- a measure of a related number adds the value once per record of the report (a sum of
  the accounts' employees over deals counts an account once per deal); a related record
  the viewer may not read adds nothing.

Drill-down: the list's filters know no "field of the lookup" operand, so a related group
drills to the list filtered by the set of related records' ids ("Account is one of ...").
That set is capped at ``list_views.MAX_VALUES`` records: a group of more related records
(or "(empty)" and "(not visible)") has no drill-down link.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case

from crm.access import policy
from crm.metadata import list_views as lv
from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records.query import scoped, table_of

SEP = "."
DRILL_IDS = lv.MAX_VALUES


class _NotVisible:
    """The group key of records whose related record the viewer may not read."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_VISIBLE"

    def __reduce__(self):
        return (_NotVisible, ())


NOT_VISIBLE = _NotVisible()


def is_empty_key(key: Any) -> bool:
    """Whether a group key is one of the groups without a value (sorted last)."""
    return key is None or key is NOT_VISIBLE


@dataclass(frozen=True)
class Related:
    """A field of the record a lookup points to, as the report names it."""

    key: str  # "<lookup>.<field>"
    lookup: FieldSpec
    target: EntitySpec
    field: FieldSpec  # the target's own field
    shown: FieldSpec  # ``field`` under ``key``, labelled "Lookup → Field"


def is_related(key: Any) -> bool:
    return isinstance(key, str) and SEP in key


def _readable(user: Any, spec: EntitySpec) -> dict[str, FieldSpec]:
    from crm.records.listing import readable_fields

    return dict(readable_fields(user, spec))


def lookups(user: Any, spec: EntitySpec) -> list[tuple[FieldSpec, EntitySpec]]:
    """The lookups of ``spec`` ``user`` may read whose target entity they may read, in
    field order, each with its target."""
    compiled = specs.current()
    out = []
    for f in _readable(user, spec).values():
        target_key = types.lookup_target(f)
        target = compiled.entity(target_key) if target_key else None
        if target is None or target.archived or not policy.can(user, "read", target.key):
            continue
        out.append((f, target))
    return out


def _related(lookup: FieldSpec, target: EntitySpec, f: FieldSpec) -> Related:
    from crm.records.present import field_label

    key = f"{lookup.key}{SEP}{f.key}"
    label = f"{lookup.label} → {field_label(f)}"
    shown = dataclasses.replace(f, key=key, label=label)
    return Related(key, lookup, target, f, shown)


def fields(user: Any, spec: EntitySpec) -> dict[str, Related]:
    """Every related field ``user`` may use, by its report key, grouped by lookup."""
    out: dict[str, Related] = {}
    for lookup, target in lookups(user, spec):
        for f in _readable(user, target).values():
            r = _related(lookup, target, f)
            out[r.key] = r
    return out


def resolve(user: Any, spec: EntitySpec, key: Any) -> Related | None:
    """The related field ``key`` names, when ``user`` may use it; None otherwise."""
    if not is_related(key):
        return None
    lookup_key, _sep, field_key = key.partition(SEP)
    for lookup, target in lookups(user, spec):
        if lookup.key == lookup_key:
            f = _readable(user, target).get(field_key)
            return _related(lookup, target, f) if f is not None else None
    return None


def by_lookup(user: Any, spec: EntitySpec, keep) -> list[tuple[str, list[FieldSpec]]]:
    """Related fields for which ``keep(target_field)`` holds, as menu groups: the
    lookup's label, then its fields (report keys, "Lookup → Field" labels)."""
    groups: dict[str, tuple[str, list[FieldSpec]]] = {}
    for r in fields(user, spec).values():
        if keep(r.field):
            groups.setdefault(r.lookup.key, (r.lookup.label, []))[1].append(r.shown)
    return list(groups.values())


# --- joining ------------------------------------------------------------------------------


class Joins:
    """The related side of one report run: one scoped subquery per lookup used, joined
    to the report's entity (left outer: a deal without a readable account stays)."""

    def __init__(self, user: Any, spec: EntitySpec, used: dict[str, Related]):
        self.user, self.spec = user, spec
        self.table = table_of(spec)
        self.used = used
        self.subs: dict[str, Any] = {}
        wanted: dict[str, set[str]] = {}
        for r in used.values():
            wanted.setdefault(r.lookup.key, set()).add(r.field.key)
        for lookup_key, keys in sorted(wanted.items()):
            r = next(x for x in used.values() if x.lookup.key == lookup_key)
            t = table_of(r.target)
            cols = [t.c.id.label("id"), *(t.c[k].label(k) for k in sorted(keys - {"id"}))]
            self.subs[lookup_key] = scoped(user, r.target, "read", columns=cols).subquery(
                f"rel_{lookup_key}"
            )

    def from_clause(self):
        """The report entity's table with every related subquery joined."""
        clause = self.table
        for lookup_key, sub in self.subs.items():
            clause = clause.outerjoin(sub, self.table.c[lookup_key] == sub.c.id)
        return clause

    def column(self, key: str):
        r = self.used[key]
        return self.subs[r.lookup.key].c[r.field.key]

    def hidden_flag(self, key: str):
        """1 when the record's related record exists but the viewer may not read it."""
        r = self.used[key]
        sub = self.subs[r.lookup.key]
        lookup_col = self.table.c[r.lookup.key]
        return case((and_(lookup_col.is_not(None), sub.c.id.is_(None)), 1), else_=0)

    def filter_condition(self, key: str, op: str, value: Any, dialect: str):
        """A filter on a related field: its related record is readable and matches."""
        r = self.used[key]
        sub = self.subs[r.lookup.key]
        built = types.build_filter(
            r.field, sub.c[r.field.key], op, value,
            dialect_name=dialect, user_id=getattr(self.user, "id", None),
        )  # fmt: skip
        return and_(sub.c.id.is_not(None), built)


class Drill:
    """The list filters that hold a report cell's records as far as related fields go:
    per lookup with a related filter or grouping, "Lookup is one of <ids>" of the related
    records the viewer may read that meet the report's filters on that lookup and the
    cell's keys. ``self(keys)`` (group index -> key) is a list of parts for
    ``engine.drill_url``; a part is None when the cell cannot be listed (an empty or
    "(not visible)" key, or more than DRILL_IDS related records)."""

    def __init__(self, user: Any, defn: Any, joins: Joins | None, groups: tuple):
        self.user, self.defn, self.joins, self.groups = user, defn, joins, groups
        self.memo: dict = {}

    def __call__(self, keys: dict[int, Any]) -> list:
        if self.joins is None:
            return []
        parts = []
        for lookup_key in self.joins.subs:
            wanted = tuple(
                (i, keys[i])
                for i, g in enumerate(self.groups)
                if i in keys
                and is_related(g.field)
                and self.joins.used[g.field].lookup.key == lookup_key
            )
            filtered = any(
                is_related(f.field) and self.joins.used[f.field].lookup.key == lookup_key
                for f in self.defn.filters
            )
            if not wanted and not filtered:
                continue
            memo_key = (lookup_key, wanted)
            if memo_key not in self.memo:
                self.memo[memo_key] = self._part(lookup_key, wanted)
            parts.append(self.memo[memo_key])
        return parts

    def _part(self, lookup_key: str, wanted: tuple) -> list | None:
        from crm.extensions import db
        from crm.metadata.types import l10n
        from crm.reports import buckets

        if any(is_empty_key(k) for _i, k in wanted):
            return None
        target = next(r.target for r in self.joins.used.values() if r.lookup.key == lookup_key)
        t = table_of(target)
        dialect = db.session.get_bind().dialect.name
        conditions = []
        for f in self.defn.filters:
            r = self.joins.used.get(f.field) if is_related(f.field) else None
            if r is not None and r.lookup.key == lookup_key:
                conditions.append(types.build_filter(
                    r.field, t.c[r.field.key], f.op, f.value,
                    dialect_name=dialect, user_id=getattr(self.user, "id", None),
                ))  # fmt: skip
        for i, key in wanted:
            g = self.groups[i]
            r = self.joins.used[g.field]
            col = t.c[r.field.key]
            if g.bucket:
                moment = types.get(r.field.type).storage == "datetime"
                zone = l10n.current().zone
                col = buckets.key_sql(col, g.bucket, dialect, moment=moment, zone=zone)
            conditions.append(col == key)
        ids = drill_ids(self.user, target, conditions)
        if ids is None:
            return None
        return [(f"f.{lookup_key}.in", str(i)) for i in ids]


def drill_ids(user: Any, target: EntitySpec, conditions: list) -> list[int] | None:
    """Ids of ``target``'s records ``user`` may read meeting ``conditions`` (written on
    ``target``'s own table), or None when there are none or more than DRILL_IDS."""
    t = table_of(target)
    query = scoped(user, target, "read", columns=[t.c.id]).where(*conditions)
    ids = list(select_ids(query.order_by(t.c.id).limit(DRILL_IDS + 1)))
    return ids if 0 < len(ids) <= DRILL_IDS else None


def select_ids(query) -> list[int]:
    from crm.extensions import db

    return list(db.session.scalars(query))


def not_visible_label() -> str:
    return _("(not visible)")
