"""What the builder page shows: the choices its menus offer for the chosen entity (only
fields the viewer may read), the filters as chips with links that drop one, and the
result with its chart, or the problems with the definition keyed by part."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from crm.access import policy
from crm.errors import DomainError
from crm.metadata import list_views as lv
from crm.metadata import specs
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records import present
from crm.reports import chart as charts
from crm.reports import definition as d
from crm.reports import related
from crm.reports.engine import Result, run

NEW_FILTER = ("nf", "nop", "nv", "nv2")


@dataclass
class Builder:
    args: MultiDict
    entities: list[EntitySpec]
    spec: EntitySpec | None = None
    defn: d.ReportDef | None = None
    result: Result | None = None
    chart: charts.Chart | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    groupable: list[FieldSpec] = field(default_factory=list)
    measurable: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    filterable: list[FieldSpec] = field(default_factory=list)
    # fields of related records, under each lookup's label: (label, fields or choices)
    related_groupable: list[tuple[str, list[FieldSpec]]] = field(default_factory=list)
    related_measurable: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    related_filterable: list[tuple[str, list[FieldSpec]]] = field(default_factory=list)
    chips: list[tuple[str, str]] = field(default_factory=list)  # (words, remove url)
    ops: list[tuple[str, str]] = field(default_factory=list)  # the new filter's conditions

    @property
    def bucketed_keys(self) -> set[str]:
        related = (f for _label, fs in self.related_groupable for f in fs)
        return {f.key for f in (*self.groupable, *related) if d.bucketed(f)}

    def chosen(self, name: str) -> str:
        return self.args.get(name) or ""

    def chosen_measures(self) -> list[str]:
        ms = [m for m in self.args.getlist("m") if m]
        return ms or ["count:"]

    @property
    def query(self) -> str:
        """The definition as the builder's query string (links, exports, saving)."""
        return urlencode(d.to_args(self.defn)) if self.defn else ""

    def error_of(self, part: str) -> list[str]:
        return [m for m in self.errors.get(part, []) if m != "too_many"]

    @property
    def general_errors(self) -> list[str]:
        return [m for k, ms in self.errors.items() if k not in ("name", "roles") for m in ms
                if m != "too_many"]  # fmt: skip


def _with_new_filter(args: MultiDict) -> MultiDict:
    """Fold the "add a filter" inputs (``nf``, ``nop``, ``nv``, ``nv2``) into an
    ``f.<field>.<op>`` argument, once all are given."""
    out = MultiDict([(k, v) for k, v in args.items(multi=True) if k not in NEW_FILTER])
    key, op = (args.get("nf") or "").strip(), (args.get("nop") or "").strip()
    value, value2 = (args.get("nv") or "").strip(), (args.get("nv2") or "").strip()
    if key and op and (value or not lv.needs_value(op)):
        name = f"f.{key}.{op}"
        if op == "between":
            out.setlist(name, [value, value2])
        else:
            out.add(name, value)
    return out


def _measure_choices(user: Any, spec: EntitySpec) -> list[tuple[str, str]]:
    out = [("count:", str(d.AGGREGATE_LABELS["count"]))]
    for f in d.measure_fields(user, spec):
        for agg in d.measures_for(f):
            out.append((f"{agg}:{f.key}", f"{d.AGGREGATE_LABELS[agg]}: {present.field_label(f)}"))
    return out


def _related_measures(user: Any, spec: EntitySpec) -> list[tuple[str, list[tuple[str, str]]]]:
    out = []
    for label, fields in related.by_lookup(user, spec, d.measures_for):
        choices = [
            (f"{agg}:{f.key}", f"{d.AGGREGATE_LABELS[agg]}: {f.label}")
            for f in fields
            if f.key.partition(related.SEP)[2] not in lv.SPINE_BY_KEY
            for agg in d.measures_for(f)
        ]
        if choices:
            out.append((label, choices))
    return out


def _describe(user: Any, spec: EntitySpec, f: lv.FilterSpec) -> str:
    from crm.records.views.filters import describe

    r = related.resolve(user, spec, f.field) if related.is_related(f.field) else None
    if r is None:
        return describe(spec, f, {})
    inner = describe(r.target, lv.FilterSpec(r.field.key, f.op, f.value), {})
    return f"{r.lookup.label} → {inner}"


def _chips(user: Any, spec: EntitySpec, defn: d.ReportDef) -> list[tuple[str, str]]:
    out = []
    base = d.to_args(defn)
    for f in defn.filters:
        name = f"f.{f.field}.{f.op}"
        kept = [(k, v) for k, v in base if k != name]
        out.append((_describe(user, spec, f), url_for("reports.builder") + "?" + urlencode(kept)))
    return out


def build(user: Any, raw_args: MultiDict) -> Builder:
    """The builder for these arguments: menus for the entity chosen, and the result when
    the definition holds (its problems otherwise)."""
    args = _with_new_filter(raw_args)
    entities = sorted(
        (e for e in specs.current().active_entities if policy.can(user, "read", e.key)),
        key=lambda e: e.label_plural.lower(),
    )
    b = Builder(args=args, entities=entities)
    key = args.get("entity") or (entities[0].key if entities else "")
    if args.get("was") and args.get("was") != key:  # another entity: start again
        args = MultiDict([("entity", key)])
        b.args = args
    b.spec = next((e for e in entities if e.key == key), None)
    if b.spec is None:
        if entities or args.get("entity"):
            b.errors["entity"] = [_("Choose an entity you may read.")]
        return b
    readable = d.readable(user, b.spec)
    b.groupable = d.group_fields(user, b.spec)
    b.measurable = _measure_choices(user, b.spec)
    b.filterable = [f for f in readable.values() if lv.operators_for(f)]
    b.related_groupable = related.by_lookup(user, b.spec, d.groupable)
    b.related_measurable = _related_measures(user, b.spec)
    b.related_filterable = related.by_lookup(user, b.spec, lv.operators_for)
    nf_key = raw_args.get("nf") or ""
    nf = readable.get(nf_key)
    if related.is_related(nf_key):
        r = related.resolve(user, b.spec, nf_key)
        nf = r.field if r is not None else None
    if nf is not None:
        b.ops = [(op, lv.operator_label(nf, op)) for op in lv.operators_for(nf)]
    data = d.from_args(MultiDict([*args.items(multi=True), ("entity", b.spec.key)]))
    try:
        b.defn = d.parse(user, data)
        b.chips = _chips(user, b.spec, b.defn)
        b.result = run(user, b.defn)
        b.chart = charts.build(b.result)
    except DomainError as exc:
        b.errors = dict(exc.errors) or {"report": [str(exc)]}
    return b
