"""A report as data: which entity, which of its records (the list's filters), grouped by
what, measuring what, in which order and how many groups. ``parse`` checks a plain dict
(JSON, form arguments) against the entity and what the viewer may read, and returns
every problem at once in a ``ValidationFailed`` keyed by part ("entity", "filters",
"groups", "measures", "sort", "limit", "chart").

Fields are offered and accepted only when the viewer may read them
(``listing.readable_fields``): a hidden field is refused with the same words as an
unknown one, so a report never tells what it hides. Filters are the list's
(``list_views.check_filter``): one filter language for lists, boards and reports.

What a field can be grouped or measured by is asked of its type's registry entry:
``temporal`` fields are bucketed (day, week, month, quarter, year), fields with choices,
references and yes/no fields are grouped by value; ``aggregates`` says which measures
apply (sum and average only for numbers and money).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.access import policy
from crm.errors import NotFound, ValidationFailed
from crm.metadata import list_views as lv
from crm.metadata import specs, types
from crm.metadata.list_views import FilterSpec
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.reports import related

DEPARTMENT = "@department"  # the owner's department: a pseudo-field for grouping
BUCKETS = ("day", "week", "month", "quarter", "year")
BUCKET_LABELS = {
    "day": _l("Day"),
    "week": _l("Week"),
    "month": _l("Month"),
    "quarter": _l("Quarter"),
    "year": _l("Year"),
}
AGGREGATES = ("count", "sum", "avg", "min", "max", "distinct")
AGGREGATE_LABELS = {
    "count": _l("Count"),
    "sum": _l("Sum"),
    "avg": _l("Average"),
    "min": _l("Minimum"),
    "max": _l("Maximum"),
    "distinct": _l("Distinct count"),
}
CHARTS = ("table", "bar", "stacked", "line", "pie", "donut", "funnel")
CHART_LABELS = {
    "table": _l("Table only"),
    "bar": _l("Bars"),
    "stacked": _l("Stacked bars"),
    "line": _l("Line"),
    "pie": _l("Pie"),
    "donut": _l("Donut"),
    "funnel": _l("Funnel"),
}
MAX_GROUPS, MAX_MEASURES = 2, 4
MAX_LIMIT, DEFAULT_LIMIT = 1000, 100


@dataclass(frozen=True)
class Grouping:
    field: str  # a field key, a spine key (owner_id, created_at...) or DEPARTMENT
    bucket: str | None = None  # for dates and moments

    def to_data(self) -> dict:
        return (
            {"field": self.field, "bucket": self.bucket} if self.bucket else {"field": self.field}
        )


@dataclass(frozen=True)
class Measure:
    agg: str
    field: str | None = None  # None: count of records

    @property
    def key(self) -> str:
        return f"{self.agg}:{self.field or ''}"

    def to_data(self) -> dict:
        return {"agg": self.agg, "field": self.field} if self.field else {"agg": self.agg}


@dataclass(frozen=True)
class ReportDef:
    entity: str
    filters: tuple[FilterSpec, ...] = ()
    groups: tuple[Grouping, ...] = ()
    measures: tuple[Measure, ...] = (Measure("count"),)
    sort: str = "group"  # "group" (the groups' own order) or "measure" (the first measure)
    direction: str = "asc"
    limit: int = DEFAULT_LIMIT
    chart: str = "bar"

    def to_data(self) -> dict:
        """The definition as plain JSON data (what a saved report stores)."""
        return {
            "entity": self.entity,
            "filters": [f.to_data() for f in self.filters],
            "groups": [g.to_data() for g in self.groups],
            "measures": [m.to_data() for m in self.measures],
            "sort": self.sort,
            "direction": self.direction,
            "limit": self.limit,
            "chart": self.chart,
        }


# --- what a field offers -------------------------------------------------------------------


def department_field() -> FieldSpec:
    """The owner's department as a pseudo-field (grouping only)."""
    return FieldSpec(key=DEPARTMENT, type="user", label=_l("Department"))


def groupable(f: FieldSpec) -> bool:
    """Whether records can be grouped by ``f``: its type has choices (one value each), is
    a reference or a yes/no value, or is a date (bucketed)."""
    entry = types.get(f.type)
    if entry.multi_valued:
        return False
    return bool(
        entry.temporal or entry.has_choices or entry.reference or entry.storage == "boolean"
    )


def bucketed(f: FieldSpec) -> bool:
    return types.get(f.type).temporal


def measures_for(f: FieldSpec) -> tuple[str, ...]:
    """The measures ``f`` offers (its type's ``aggregates`` and a distinct count; a
    field of several values has none)."""
    entry = types.get(f.type)
    if entry.multi_valued:
        return ()
    return (*(a for a in entry.aggregates if a != "count"), "distinct")


def readable(user: Any, spec: EntitySpec) -> dict[str, FieldSpec]:
    """Fields ``user`` may read, by key, spine included (``listing.readable_fields``)."""
    from crm.records.listing import readable_fields

    return dict(readable_fields(user, spec))


def group_fields(user: Any, spec: EntitySpec) -> list[FieldSpec]:
    """What ``user`` may group ``spec``'s records by, in the order a menu offers them."""
    fields = [f for f in readable(user, spec).values() if groupable(f)]
    if "owner_id" in readable(user, spec):
        fields.append(department_field())
    return fields


def related_group_fields(user: Any, spec: EntitySpec) -> dict[str, FieldSpec]:
    """Fields of related records (``crm.reports.related``) ``user`` may group by, by
    report key ("account.industry"), labelled "Account → Industry"."""
    return {k: r.shown for k, r in related.fields(user, spec).items() if groupable(r.field)}


def related_measure_fields(user: Any, spec: EntitySpec) -> dict[str, FieldSpec]:
    """Fields of related records ``user`` may measure, by report key."""
    return {
        k: r.shown
        for k, r in related.fields(user, spec).items()
        if measures_for(r.field) and r.field.key not in lv.SPINE_BY_KEY
    }


def measure_fields(user: Any, spec: EntitySpec) -> list[FieldSpec]:
    """The fields ``user`` may measure (a sum, an average ...), in menu order."""
    return [
        f for f in readable(user, spec).values() if measures_for(f) and f.key not in lv.SPINE_BY_KEY
    ]


# --- parsing -------------------------------------------------------------------------------


def _entity(user: Any, key: Any, errors: dict[str, list[str]]) -> EntitySpec | None:
    spec = specs.current().entity(key) if isinstance(key, str) and key else None
    if spec is None or not policy.can(user, "read", spec.key):
        errors.setdefault("entity", []).append(_("Choose an entity you may read."))
        return None
    return spec


def _items(raw: Any) -> list:
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list | tuple) else [raw]


def _groups(user, spec, raw, errors) -> tuple[Grouping, ...]:
    offered = {f.key: f for f in group_fields(user, spec)}
    if related.SEP in str(raw):  # a related field named: offer them (worked out lazily)
        offered.update(related_group_fields(user, spec))
    out: list[Grouping] = []
    items = [g for g in _items(raw) if g]
    if len(items) > MAX_GROUPS:
        errors.setdefault("groups", []).append(
            _("Group by at most %(num)d fields.", num=MAX_GROUPS)
        )
        items = items[:MAX_GROUPS]
    for item in items:
        key = item.get("field") if isinstance(item, Mapping) else item
        bucket = item.get("bucket") if isinstance(item, Mapping) else None
        f = offered.get(key) if isinstance(key, str) else None
        if f is None:
            errors.setdefault("groups", []).append(
                _("“%(key)s” is not a field the records can be grouped by.", key=str(key)[:50])
            )
            continue
        if bucketed(f):
            bucket = bucket or "month"
            if bucket not in BUCKETS:
                errors.setdefault("groups", []).append(
                    _("%(field)s: group by day, week, month, quarter or year.", field=f.label)
                )
                continue
        else:
            bucket = None
        if any(g.field == f.key for g in out):
            errors.setdefault("groups", []).append(
                _("%(field)s: group by each field once.", field=f.label)
            )
            continue
        out.append(Grouping(f.key, bucket))
    return tuple(out)


def _measures(user, spec, raw, errors) -> tuple[Measure, ...]:
    fields = {k: f for k, f in readable(user, spec).items() if k not in lv.SPINE_BY_KEY}
    if any(related.SEP in str(m) for m in _items(raw)):
        fields.update(related_measure_fields(user, spec))
    items = [m for m in _items(raw) if m]
    if not items:
        return (Measure("count"),)
    if len(items) > MAX_MEASURES:
        errors.setdefault("measures", []).append(
            _("Choose at most %(num)d measures.", num=MAX_MEASURES)
        )
        items = items[:MAX_MEASURES]
    out: list[Measure] = []
    for item in items:
        if isinstance(item, str):
            agg, _sep, key = item.partition(":")
        elif isinstance(item, Mapping):
            agg, key = item.get("agg"), item.get("field")
        else:
            agg, key = None, None
        if agg not in AGGREGATES:
            errors.setdefault("measures", []).append(
                _("“%(agg)s” is not a measure.", agg=str(agg)[:30])
            )
            continue
        if agg == "count" and not key:
            m = Measure("count")
        else:
            f = fields.get(key) if isinstance(key, str) else None
            if f is None:
                errors.setdefault("measures", []).append(
                    _("There is no field “%(key)s” to measure.", key=str(key or "")[:50])
                )
                continue
            if agg not in measures_for(f):
                errors.setdefault("measures", []).append(
                    _(
                        "%(field)s: a %(measure)s cannot be taken of this field.",
                        field=f.label,
                        measure=str(AGGREGATE_LABELS[agg]).lower(),
                    )
                )
                continue
            m = Measure(agg, f.key)
        if m not in out:
            out.append(m)
    return tuple(out) or (Measure("count"),)


def _filters(user, spec, raw, errors) -> tuple[FilterSpec, ...]:
    fields = readable(user, spec)
    out: list[FilterSpec] = []
    items = _items(raw)
    if len(items) > lv.MAX_FILTERS:
        errors.setdefault("filters", []).append(
            _("Use at most %(num)d filters.", num=lv.MAX_FILTERS)
        )
        items = items[: lv.MAX_FILTERS]
    for item in items:
        key = item.get("field") if isinstance(item, Mapping) else None
        if related.is_related(key):
            r = related.resolve(user, spec, key)
            found, problems = (
                lv.check_filter(r.target, {**item, "field": r.field.key})
                if r is not None
                else (None, [_("There is no field “%(key)s” to filter by.", key=key[:50])])
            )
            if problems:
                errors.setdefault("filters", []).extend(problems)
            elif found is not None:
                out.append(FilterSpec(r.key, found.op, found.value))
            continue
        if not isinstance(key, str) or key not in fields:
            errors.setdefault("filters", []).append(
                _("There is no field “%(key)s” to filter by.", key=str(key or "")[:50])
            )
            continue
        found, problems = lv.check_filter(spec, item)
        if problems:
            errors.setdefault("filters", []).extend(problems)
        elif found is not None:
            out.append(found)
    return tuple(out)


def _limit(raw: Any, errors) -> int:
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        n = int(str(raw).strip())
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_LIMIT:
        errors.setdefault("limit", []).append(
            _("Show between 1 and %(max)d groups.", max=MAX_LIMIT)
        )
        return DEFAULT_LIMIT
    return n


def parse(user: Any, data: Mapping[str, Any]) -> ReportDef:
    """A report definition from plain data, checked against the entity's fields that
    ``user`` may read. Raises ``ValidationFailed`` with every problem, keyed by part;
    ``NotFound`` when the entity does not exist or ``user`` may not read it."""
    if not isinstance(data, Mapping):
        raise ValidationFailed(_("This report cannot be read."), errors={"report": []})
    errors: dict[str, list[str]] = {}
    spec = _entity(user, data.get("entity"), errors)
    if spec is None:  # unknown, or not the viewer's to read: the same answer (a 404)
        raise NotFound(" ".join(errors["entity"]), errors=errors)
    filters = _filters(user, spec, data.get("filters"), errors)
    groups = _groups(user, spec, data.get("groups"), errors)
    measures = _measures(user, spec, data.get("measures"), errors)
    sort = data.get("sort") or "group"
    if sort not in ("group", "measure"):
        errors.setdefault("sort", []).append(_("Sort by the groups or by the first measure."))
        sort = "group"
    direction = data.get("direction") or "asc"
    if direction not in lv.DIRECTIONS:
        errors.setdefault("sort", []).append(_("Sort up or down."))
        direction = "asc"
    limit = _limit(data.get("limit"), errors)
    chart = data.get("chart") or "bar"
    if chart not in CHARTS:
        errors.setdefault("chart", []).append(_("Choose a kind of chart from the list."))
        chart = "bar"
    if errors:
        raise ValidationFailed(" ".join(m for ms in errors.values() for m in ms), errors=errors)
    return ReportDef(spec.key, filters, groups, measures, sort, direction, limit, chart)


def from_args(args: Any) -> dict:
    """Builder form arguments as definition data: ``entity``, ``g1``/``b1``, ``g2``/``b2``,
    ``m`` (repeated, "agg:field"), ``sort``, ``dir``, ``limit``, ``chart`` and the list's
    ``f.<field>.<op>`` filters."""
    groups = []
    for n in ("1", "2"):
        key = (args.get("g" + n) or "").strip()
        if key:
            groups.append({"field": key, "bucket": (args.get("b" + n) or "").strip() or None})
    filters = []
    for name in args:
        if name.startswith("f.") and name.count(".") >= 2:
            key, _sep, op = name[2:].rpartition(".")
            values = [v for v in args.getlist(name)]
            value: Any = values if len(values) > 1 or op in lv.LIST_OPS else values[0]
            if op == "between":
                value = values
            filters.append({"field": key, "op": op, "value": value})
    return {
        "entity": (args.get("entity") or "").strip(),
        "filters": filters,
        "groups": groups,
        "measures": [m for m in args.getlist("m") if m.strip()],
        "sort": args.get("sort") or "group",
        "direction": args.get("dir") or "asc",
        "limit": args.get("limit"),
        "chart": args.get("chart") or "bar",
    }


def to_args(defn: ReportDef) -> list[tuple[str, str]]:
    """The builder's URL arguments for ``defn`` (the inverse of ``from_args``)."""
    pairs: list[tuple[str, str]] = [("entity", defn.entity)]
    for n, g in enumerate(defn.groups, start=1):
        pairs.append((f"g{n}", g.field))
        if g.bucket:
            pairs.append((f"b{n}", g.bucket))
    pairs += [("m", f"{m.agg}:{m.field or ''}") for m in defn.measures]
    for f in defn.filters:
        values = (
            [""]
            if f.value is None
            else (list(f.value) if isinstance(f.value, tuple) else [f.value])
        )
        pairs += [(f"f.{f.field}.{f.op}", v) for v in values]
    pairs += [("sort", defn.sort), ("dir", defn.direction), ("limit", str(defn.limit))]
    pairs.append(("chart", defn.chart))
    return pairs
