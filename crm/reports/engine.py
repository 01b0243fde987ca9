"""Running a report: ``run(user, defn) -> Result``, for the builder, saved reports,
dashboards and anyone else who needs grouped figures.

- Aggregation happens in SQL, on the scoped query layer (``crm.records.query.scoped``):
  the viewer's scope always applies, so a report shared by a manager shows a rep the
  rep's own numbers. The filters are the list's (``listing.list_conditions``), which is
  what makes a drill-down list hold exactly the records of its cell.
- The definition is checked for this viewer before it runs (``definition.parse`` refuses
  fields they may not read), and ``run`` checks again: a saved definition opened by
  someone who may read less is refused with a message, never run on what they cannot see.
- At most MAX_CELLS groups are read; more is a message saying to filter or choose
  larger buckets (a pivot of a million cells is never built).
- Subtotals and totals of counts, sums, minimums and maximums are added up from the
  groups; averages and distinct counts are not additive, so their totals are queried.
- Fields of related records ("account.industry", one hop through a lookup) are read
  through the related entity's scoped query too (``crm.reports.related``): a record
  whose related record the viewer may not read falls under "(not visible)" when grouped
  by a related field, matches no related filter and adds nothing to a related measure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import g as request_state
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.access import policy
from crm.access.models import Department, User
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import list_views as lv
from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.metadata.types import l10n
from crm.records import listing, present
from crm.records.query import scoped, table_of
from crm.reports import buckets, related
from crm.reports import definition as d
from crm.reports.related import NOT_VISIBLE

MAX_CELLS = 10_000
MAX_PIVOT_COLUMNS = 40
ADDITIVE = ("count", "sum", "min", "max")
DRILL_USERS = lv.MAX_VALUES


@dataclass
class Row:
    keys: tuple  # the group keys (one or two)
    labels: tuple[str, ...]
    values: tuple  # one per measure
    url: str | None = None  # the list of exactly these records


@dataclass
class Result:
    defn: d.ReportDef
    spec: EntitySpec
    group_fields: tuple[FieldSpec, ...]
    measure_labels: tuple[str, ...]
    rows: list[Row]  # two groupings: the cells; one: the groups; none: []
    totals: tuple
    total_url: str | None
    subtotals: dict = field(default_factory=dict)  # first key -> Row (two groupings)
    first_keys: list = field(default_factory=list)  # the shown first-level keys, in order
    second_keys: list = field(default_factory=list)  # two groupings: the columns, in order
    second_labels: dict = field(default_factory=dict)
    hidden_groups: int = 0  # first-level groups beyond the limit
    writers: tuple = ()  # per measure: value -> text

    @property
    def pivot(self) -> bool:
        """Two groupings shown as a grid (few enough columns)."""
        return len(self.group_fields) == 2 and len(self.second_keys) <= MAX_PIVOT_COLUMNS

    def cell(self, k1: Any, k2: Any) -> Row | None:
        return self._cells.get((k1, k2))

    @property
    def _cells(self) -> dict:
        if not hasattr(self, "_cell_map"):
            self._cell_map = {r.keys: r for r in self.rows}
        return self._cell_map

    def text(self, index: int, value: Any) -> str:
        """Measure ``index``'s value as text in the reader's language ("—" when none)."""
        return "—" if value is None else self.writers[index](value)

    @property
    def shown_rows(self) -> list[Row]:
        """One grouping: the groups within the limit; two: the cells of shown groups."""
        wanted = set(self.first_keys)
        return [r for r in self.rows if r.keys[0] in wanted]


# --- SQL --------------------------------------------------------------------------------------


def _field(user: Any, spec: EntitySpec, key: str) -> FieldSpec:
    if key == d.DEPARTMENT:
        return d.department_field()
    if related.is_related(key):
        return _related(user, spec, key).shown
    return d.readable(user, spec)[key]


def _related(user: Any, spec: EntitySpec, key: str) -> related.Related:
    found = related.resolve(user, spec, key)
    if found is None:  # parse refused it already; a stale definition: the same words
        raise ValidationFailed(
            _("There is no field “%(key)s” to measure.", key=key[:50]), errors={"report": []}
        )
    return found


def _joins(user: Any, spec: EntitySpec, defn: d.ReportDef) -> related.Joins | None:
    """The related records the report reads (None when it reads none)."""
    keys = [g.field for g in defn.groups] + [m.field for m in defn.measures]
    keys += [f.field for f in defn.filters]
    used = {k: _related(user, spec, k) for k in keys if related.is_related(k)}
    return related.Joins(user, spec, used) if used else None


def _is_moment(f: FieldSpec) -> bool:
    return types.get(f.type).storage == "datetime"


def _group_sql(table, f: FieldSpec, g: d.Grouping, dialect: str, zone: str, joins=None):
    if g.field == d.DEPARTMENT:
        return select(User.department_id).where(User.id == table.c.owner_id).scalar_subquery()
    col = joins.column(g.field) if related.is_related(g.field) else table.c[g.field]
    if g.bucket:
        return buckets.key_sql(col, g.bucket, dialect, moment=_is_moment(f), zone=zone)
    return col


def _measure_sql(table, m: d.Measure, joins=None):
    if m.agg == "count" and m.field is None:
        return func.count()
    col = joins.column(m.field) if related.is_related(m.field) else table.c[m.field]
    if m.agg == "count":
        return func.count(col)
    if m.agg == "distinct":
        return func.count(col.distinct())
    return {"sum": func.sum, "avg": func.avg, "min": func.min, "max": func.max}[m.agg](col)


def _check_readable(user: Any, spec: EntitySpec, defn: d.ReportDef) -> None:
    """Re-check a stored definition for this viewer: every field it names must be one
    they may read (a shared report opened by someone who may read less)."""
    d.parse(user, defn.to_data())


def _query(user, spec, defn, groups, conditions, joins=None):
    """The grouped query; after the keys and measures, for each grouping by a related
    field, a flag column (1: the related record is not the viewer's to read)."""
    table = table_of(spec)
    dialect = db.session.get_bind().dialect.name
    zone = l10n.current().zone
    keys = [
        _group_sql(table, _field(user, spec, g.field), g, dialect, zone, joins).label(f"g{i}")
        for i, g in enumerate(groups)
    ]
    measures = [_measure_sql(table, m, joins).label(f"m{i}") for i, m in enumerate(defn.measures)]
    flags = [
        joins.hidden_flag(g.field).label(f"h{i}")
        for i, g in enumerate(groups)
        if related.is_related(g.field)
    ]
    query = scoped(user, spec, "read", columns=[*keys, *measures, *flags]).where(*conditions)
    if joins is not None:
        query = query.select_from(joins.from_clause())
    if keys:
        query = query.group_by(*keys, *flags)
    return query


def _conditions(user: Any, spec: EntitySpec, defn: d.ReportDef, joins=None) -> list:
    own = tuple(f for f in defn.filters if not related.is_related(f.field))
    request = listing.ListRequest(view=lv.builtin_view(spec), filters=own)
    conditions = listing.list_conditions(user, spec, request)
    if joins is not None:
        dialect = db.session.get_bind().dialect.name
        conditions += [
            joins.filter_condition(f.field, f.op, f.value, dialect)
            for f in defn.filters
            if related.is_related(f.field)
        ]
    return conditions


def _fold(rows: list[tuple], groups: tuple, measures: int) -> list[tuple]:
    """Rows without their flag columns, a related grouping's key NOT_VISIBLE where the
    flag says the related record is not the viewer's to read."""
    flagged = [i for i, g in enumerate(groups) if related.is_related(g.field)]
    if not flagged:
        return rows
    width = len(groups)
    out = []
    for r in rows:
        keys = list(r[:width])
        for j, i in enumerate(flagged):
            if r[width + measures + j]:
                keys[i] = NOT_VISIBLE
        out.append((*keys, *r[width : width + measures]))
    return out


def _read(query, cap: int | None = None) -> list[tuple]:
    if cap is not None:
        query = query.limit(cap + 1)
    rows = [tuple(r) for r in db.session.execute(query)]
    if cap is not None and len(rows) > cap:
        raise ValidationFailed(
            _(
                "This report has more than %(num)s groups: add a filter, group by fewer "
                "fields or choose larger periods.",
                num=l10n.current().number(cap),
            ),
            errors={"groups": ["too_many"]},
        )
    return rows


# --- adding up ----------------------------------------------------------------------------


def _combine(agg: str, a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if agg in ("count", "sum"):
        return a + b
    return min(a, b) if agg == "min" else max(a, b)


def _add_up(defn: d.ReportDef, rows: list[tuple], width: int) -> tuple:
    totals: list[Any] = [None] * len(defn.measures)
    for r in rows:
        for i, m in enumerate(defn.measures):
            totals[i] = _combine(m.agg, totals[i], r[width + i])
    return tuple(0 if t is None and m.agg in ("count", "distinct") else t
                 for t, m in zip(totals, defn.measures, strict=True))  # fmt: skip


# --- labels and links ---------------------------------------------------------------------


def _labeller(user: Any, spec: EntitySpec, f: FieldSpec, g: d.Grouping, keys: set):
    """A function writing the group keys of ``g`` in the reader's language (each key
    written once: a grid repeats them)."""
    write = _writer_of_keys(user, spec, f, g, keys)
    memo: dict = {}

    def label(k: Any) -> str:
        if k not in memo:
            memo[k] = write(k)
        return memo[k]

    return label


def _writer_of_keys(user: Any, spec: EntitySpec, f: FieldSpec, g: d.Grouping, keys: set):
    if related.is_related(g.field):
        r = _related(user, spec, g.field)
        inner = _writer_of_keys(
            user, r.target, r.field, d.Grouping(r.field.key, g.bucket),
            {k for k in keys if k is not NOT_VISIBLE},
        )  # fmt: skip
        return lambda k: related.not_visible_label() if k is NOT_VISIBLE else inner(k)
    empty = _("No owner") if g.field == "owner_id" else _("(empty)")
    if g.bucket:
        fm = l10n.current()
        return lambda k: empty if k is None else buckets.label(k, g.bucket, fm)
    if g.field == d.DEPARTMENT:
        ids = [k for k in keys if k is not None]
        rows = db.session.scalars(select(Department).where(Department.id.in_(ids))) if ids else []
        names = {r.id: r.display_name for r in rows}
        return lambda k: _("No department") if k is None else names.get(k, f"#{k}")
    shown = present.Display(user, spec, [f], [{f.key: k} for k in keys])
    return lambda k: empty if k is None else (shown.text(f, k) or empty)


def _writer(spec: EntitySpec, m: d.Measure, fields: Mapping[str, FieldSpec]):
    fm = l10n.current()
    if m.field is None or m.agg in ("count", "distinct"):
        return lambda v: fm.number(int(v))
    f = fields[m.field]
    entry = types.get(f.type)
    write = entry.formatter(f, fm)
    if m.agg == "avg" and entry.storage != "numeric":  # an average of whole numbers
        return lambda v: fm.number(Decimal(str(v)).quantize(Decimal("0.01")), 2)

    def typed(v: Any) -> str:
        try:
            return write(Decimal(str(v)).quantize(Decimal("0.01")) if m.agg == "avg" else v)
        except (ValueError, TypeError, ArithmeticError):
            return str(v)

    return typed


def _drill_pairs(user: Any, spec: EntitySpec, f: FieldSpec, g: d.Grouping, key: Any):
    """The list filter that holds exactly the records of group key ``key``, or None."""
    entry = types.get(f.type)
    if related.is_related(g.field):
        return None  # drilled by the related records' ids (``_related_parts``)
    if g.field == d.DEPARTMENT:
        if key is None:
            return None
        ids = db.session.scalars(select(User.id).where(User.department_id == key)).all()
        if not 0 < len(ids) <= DRILL_USERS:
            return None
        return [("f.owner_id.in", str(i)) for i in ids]
    ops = lv.operators_for(f)
    if key is None:
        return [(f"f.{f.key}.empty", "")] if "empty" in ops else None
    if g.bucket:
        days = buckets.span(key, g.bucket)
        if days is None or "between" not in ops:
            return None
        return [
            (f"f.{f.key}.between", days[0].isoformat()),
            (f"f.{f.key}.between", days[1].isoformat()),
        ]
    if entry.reference:
        op = "eq" if "eq" in ops else "in"
        return [(f"f.{f.key}.{op}", str(key))] if op in ops else None
    if entry.has_choices:
        return [(f"f.{f.key}.in", str(key))] if "in" in ops else None
    op = "is_true" if key else "is_false"
    return [(f"f.{f.key}.{op}", "")] if op in ops else None


def drill_url(spec: EntitySpec, defn: d.ReportDef, parts: list) -> str | None:
    """The entity's list (its built-in view: no saved view's filters) with the report's
    filters and ``parts`` (each group's filter; None when a group cannot be listed)."""
    if any(p is None for p in parts):
        return None
    base, pairs, taken = _drill_base(spec, defn)
    pairs, taken = list(pairs), set(taken)
    for part in parts:
        names = {k for k, _v in part}
        if names & taken:
            return None  # the same filter twice would merge their values
        taken |= names
        pairs += part
    return f"{base}?{urlencode(pairs)}"


def _drill_base(spec: EntitySpec, defn: d.ReportDef) -> tuple[str, tuple, frozenset]:
    """The list's URL and the report's own filters as its arguments (once per run)."""
    from crm.records.views.filters import url_values

    memo = getattr(request_state, "_report_drill", None)
    if memo is not None and memo[0] == (spec.key, defn.filters):
        return memo[1]
    pairs: list[tuple[str, str]] = [("view", "all")]
    for f in defn.filters:
        if related.is_related(f.field):
            continue  # in the related records' ids (``_related_parts``)
        pairs += [(f"f.{f.field}.{f.op}", v) for v in url_values(f)]
    found = (present.entity_urls(spec.key).list, tuple(pairs), frozenset(k for k, _v in pairs))
    request_state._report_drill = ((spec.key, defn.filters), found)
    return found


# --- the run --------------------------------------------------------------------------------


def _order(defn: d.ReportDef, keys: list, value_of: Mapping, f: FieldSpec | None = None) -> list:
    """Group keys in the report's order: by the first measure, or by the keys themselves:
    a field's choices (a picklist, the stages of a pipeline: a funnel) in their own order,
    other values as they sort; empty last."""
    rank = {c.key: n for n, c in enumerate(f.choices)} if f is not None and f.choices else {}

    def natural(k: Any):
        if k is None:
            return (True, 0, 0)
        if k is NOT_VISIBLE:
            return (True, 1, 0)
        return (False, rank.get(k, len(rank)), k) if rank else (False, 0, k)

    if defn.sort == "measure":

        def by_measure(k: Any):
            v = value_of[k][0]
            return (v is None, v if v is not None else 0)

        ordered = sorted(keys, key=natural)
        return sorted(ordered, key=by_measure, reverse=defn.direction == "desc")
    ordered = sorted(keys, key=natural, reverse=defn.direction == "desc")
    # empty values last whichever the direction
    return [k for k in ordered if not related.is_empty_key(k)] + [
        k for k in ordered if related.is_empty_key(k)
    ]


def run(user: Any, defn: d.ReportDef) -> Result:
    """The report ``defn`` for ``user``: their scope, their readable fields, their language
    and time zone. Raises ``Forbidden`` when they may not read the entity,
    ``ValidationFailed`` when the definition names a field they may not read or the
    result has more than MAX_CELLS groups."""
    spec = specs.current().entity(defn.entity)
    if spec is None:
        raise ValidationFailed(_("Choose an entity you may read."), errors={"entity": []})
    policy.require(user, "read", spec.key)
    _check_readable(user, spec, defn)
    groups = defn.groups
    width = len(groups)
    fields = tuple(_field(user, spec, g.field) for g in groups)
    joins = _joins(user, spec, defn)
    conditions = _conditions(user, spec, defn, joins)
    nm = len(defn.measures)

    def read(gs: tuple, cap: int | None = None) -> list[tuple]:
        return _fold(_read(_query(user, spec, defn, gs, conditions, joins), cap), gs, nm)

    raw = read(groups, MAX_CELLS if width else None)
    additive = all(m.agg in ADDITIVE for m in defn.measures)
    if additive or not width:
        totals = _add_up(defn, raw, width) if width else (raw[0] if raw else ())
    else:
        totals = read(())[0]
    measured = {m.field: _field(user, spec, m.field) for m in defn.measures if m.field}
    writers = tuple(_writer(spec, m, measured) for m in defn.measures)
    labels = tuple(
        (str(d.AGGREGATE_LABELS["count"]) if m.field is None
         else f"{d.AGGREGATE_LABELS[m.agg]}: {present.field_label(measured[m.field])}")
        for m in defn.measures
    )  # fmt: skip
    related_parts = related.Drill(user, defn, joins, groups)
    result = Result(
        defn=defn, spec=spec, group_fields=fields, measure_labels=labels, rows=[],
        totals=tuple(totals), total_url=drill_url(spec, defn, related_parts({})),
        writers=writers,
    )  # fmt: skip
    if not width:
        return result
    label_of = [
        _labeller(user, spec, f, g, {r[i] for r in raw})
        for i, (f, g) in enumerate(zip(fields, groups, strict=True))
    ]
    drill_of: list[dict] = [{} for _g in groups]

    def drill(i: int, key: Any):
        if key not in drill_of[i]:
            drill_of[i][key] = _drill_pairs(user, spec, fields[i], groups[i], key)
        return drill_of[i][key]

    for r in raw:
        keys = r[:width]
        parts = [drill(i, k) for i, k in enumerate(keys)]
        parts = [p for i, p in enumerate(parts) if not related.is_related(groups[i].field)]
        result.rows.append(
            Row(
                keys=keys,
                labels=tuple(label_of[i](k) for i, k in enumerate(keys)),
                values=r[width:],
                url=drill_url(spec, defn, parts + related_parts(dict(enumerate(keys)))),
            )
        )
    first = {}
    if width == 1:
        first = {r.keys[0]: r.values for r in result.rows}
    else:
        by_first: dict[Any, list] = {}
        for r in raw:
            by_first.setdefault(r[0], []).append(r)
        if additive:
            sub = {k: _add_up(defn, rs, width) for k, rs in by_first.items()}
        else:
            sub = {r[0]: r[1:] for r in read(groups[:1])}
        first_part = [] if related.is_related(groups[0].field) else None
        for k, values in sub.items():
            own = first_part if first_part is not None else [drill(0, k)]
            result.subtotals[k] = Row(
                keys=(k,), labels=(label_of[0](k),), values=tuple(values),
                url=drill_url(spec, defn, own + related_parts({0: k})),
            )  # fmt: skip
            first[k] = tuple(values)
        seconds = {r[1] for r in raw}
        result.second_keys = _order(
            d.ReportDef(defn.entity), list(seconds), {}, fields[1]
        )  # columns in their natural order
        result.second_labels = {k: label_of[1](k) for k in seconds}
    ordered = _order(defn, list(first), first, fields[0])
    result.hidden_groups = max(0, len(ordered) - defn.limit)
    result.first_keys = ordered[: defn.limit]
    position = {k: n for n, k in enumerate(result.first_keys)}
    column = {k: n for n, k in enumerate(result.second_keys)}
    result.rows.sort(
        key=lambda r: (position.get(r.keys[0], len(position)), column.get(r.keys[-1], 0))
    )
    return result
