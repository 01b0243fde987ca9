"""List page filters: the "Add filter" builder and the remove links of the filter chips.

The list page reads its filters from the URL (``f.<field>.<op>=value``, see
``crm.records.listing.parse_request``). These routes on the ``records`` blueprint help
people build them without editing the URL:

- ``GET /r/<key>/filters/new``: the builder, a form (an htmx fragment, or a page of its
  own without JavaScript, where its "Update" button refreshes the inputs);
- ``GET /r/<key>/filter-input?field=&op=``: the condition and value inputs that fit a
  field and a condition (htmx swaps them in when either changes);
- ``GET /r/<key>/filters/apply``: checks the filter and sends the browser to the list URL
  with it added, keeping the search, sort, view and the other filters (``HX-Location``
  for htmx, so the URL is pushed and the back button works; a 303 otherwise).

Only fields the user may read (``listing.readable_fields``) are offered or accepted: an
unknown or hidden field, or a condition its type does not offer, is a 400 with a message,
never a 500. The chips' texts and links come from ``list_filters``, which templates call
as a global (registered with the others in ``crm.web.templating``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import get_template_attribute, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from crm.access import directory, policy
from crm.errors import ValidationFailed
from crm.ids import as_id
from crm.metadata import list_views as lv
from crm.metadata import specs, types
from crm.metadata.filter_rows import FilterRowModel
from crm.metadata.list_views import FilterSpec
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records import listing, present
from crm.records.views import bp, entity_for
from crm.web.htmx import is_htmx, location, redirect, vary

PARTIAL = "records/_filters.html"
# "pool": the list is a customer pool's (crm.pools.views.pool_list), whose links lead back
# to it.
STATE_KEYS = frozenset({"q", "sort", "view", "size", "pool"})


# --- the list's URL -------------------------------------------------------------------------


def list_state(args: Any, *, drop: frozenset[str] | set[str] = frozenset()) -> list[tuple]:
    """The list's own arguments (search, sort, view, page size and ``f.`` filters) in their
    order, without the page cursor and without the names in ``drop``."""
    items = args.items(multi=True) if hasattr(args, "items") else []
    return [
        (k, v)
        for k, v in items
        if (k in STATE_KEYS or k.startswith("f.")) and k not in drop and isinstance(v, str)
    ]


def list_url(key: str, pairs: list[tuple]) -> str:
    """The list page of entity ``key`` with ``pairs`` as its query string (a customer
    pool's list when ``pairs`` name one)."""
    pool = next((v for k, v in pairs if k == "pool"), None)
    if pool:
        pairs = [(k, v) for k, v in pairs if k != "pool"]
        base = url_for("pools.pool_list", key=key, pool_key=pool[:41])
    else:
        base = present.entity_urls(key).list
    return f"{base}?{urlencode(pairs)}" if pairs else base


def filter_key(f: FilterSpec) -> str:
    """The URL argument that carries ``f``."""
    return f"f.{f.field}.{f.op}"


def url_values(f: FilterSpec) -> list[str]:
    """``f``'s value as URL values: one empty value for a condition without a value, two
    for "between" (an open end is empty), one or more for "is one of"."""
    if f.value is None:
        return [""]
    if isinstance(f.value, tuple):
        return list(f.value)
    return [f.value]


# --- the chips --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    text: str
    remove_url: str | None  # None for a filter of the view itself


@dataclass(frozen=True)
class ListFilters:
    chips: tuple[Chip, ...]
    clear_url: str | None  # None when only the view filters
    add_url: str


def _names_for(spec: EntitySpec, filters) -> dict[str, dict[int, str]]:
    """Names of the users and records that the filters' values point at, by field key
    (lookups through the scoped query: a record the user may not see keeps its number)."""
    user_ids: set[int] = set()
    lookups: dict[str, set[int]] = {}
    for f in filters:
        field_spec = lv.field_for(spec, f.field)
        reference = types.get(field_spec.type).reference if field_spec is not None else None
        if reference is None or f.value is None:
            continue
        ids = {i for i in map(as_id, url_values(f)) if i is not None}
        if reference == "user":
            user_ids |= ids
        else:
            lookups.setdefault(field_spec.key, set()).update(ids)
    out: dict[str, dict[int, str]] = {}
    if user_ids:
        out["*users"] = directory.user_names(user_ids)
    compiled = specs.current()
    for key, ids in lookups.items():
        target = compiled.entity(spec.field(key).option("target") or "")
        if target is not None and policy.can(current_user, "read", target.key):
            out[key] = present.names_of(current_user, target, ids)
    return out


def describe(spec: EntitySpec, f: FilterSpec, names: dict[str, dict[int, str]]) -> str:
    """``f`` in words, with user and record names instead of numbers."""
    field_spec = lv.field_for(spec, f.field)
    is_lookup = field_spec is not None and types.get(field_spec.type).reference == "record"
    if is_lookup and isinstance(f.value, str | tuple):
        known = names.get(field_spec.key, {})
        values = f.value if isinstance(f.value, tuple) else (f.value,)
        shown = tuple(known.get(as_id(v), f"#{v}") if as_id(v) else v for v in values)
        f = FilterSpec(f.field, f.op, shown if isinstance(f.value, tuple) else shown[0])
    return lv.describe_filter(spec, f, names.get("*users"))


def list_filters(spec: EntitySpec, req: listing.ListRequest, args: Any) -> ListFilters:
    """The chips of the list page (the view's filters, then the user's own, each of those
    with a link that drops only it), the "Clear" link and the "Add filter" link."""
    names = _names_for(spec, (*req.view.filters, *req.filters))
    chips = [Chip(describe(spec, f, names), None) for f in req.view.filters]
    for f in req.filters:
        remove = list_url(spec.key, list_state(args, drop={filter_key(f)}))
        chips.append(Chip(describe(spec, f, names), remove))
    clear = None
    if req.filters:
        clear = list_url(spec.key, [(k, v) for k, v in list_state(args) if k in STATE_KEYS])
    add = url_for("records.filter_builder", key=spec.key) + _query(list_state(args))
    return ListFilters(tuple(chips), clear, add)


def sort_url(spec: EntitySpec, args: Any, sort: str) -> str:
    """The list sorted by ``sort`` ("name", "-name"), keeping the search, view and filters."""
    return list_url(spec.key, [*list_state(args, drop={"sort"}), ("sort", sort)])


def _query(pairs: list[tuple]) -> str:
    return f"?{urlencode(pairs)}" if pairs else ""


def oob_fragment() -> bool:
    """True when the list is answering htmx with a fragment: the parts of the page outside
    the results (the chips, the search form's and "Save view"'s copies of the filters)
    come along out of band, so they never tell of filters the list no longer applies."""
    return is_htmx()


# --- the builder ------------------------------------------------------------------------------


@dataclass
class Builder(FilterRowModel):
    """The builder form: the shared filter-row model (field, condition, values, how the
    value is entered) plus the fields to choose from, the list's state to keep, and the
    people and records a value may name."""

    spec: EntitySpec | None = None
    fields: list[FieldSpec] = dataclasses.field(default_factory=list)
    state: list[tuple] = dataclasses.field(default_factory=list)
    fragment: bool = True  # False for the page of its own
    _people: dict[int, str] | None = None
    _names: dict[int, str] | None = None

    @staticmethod
    def label(f: FieldSpec) -> str:
        """A field's label as the builder shows it (``present.field_label``)."""
        return present.field_label(f)

    @property
    def entity_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.key not in lv.SPINE_BY_KEY]

    @property
    def spine_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.key in lv.SPINE_BY_KEY]

    @property
    def target(self) -> EntitySpec | None:
        """The entity a lookup field points at, when the user may search it."""
        if self.field is None or types.get(self.field.type).reference != "record":
            return None
        target = specs.current().entity(self.field.option("target") or "")
        if target is None or not policy.can(current_user, "read", target.key):
            return None
        return target

    @property
    def lookup_target(self) -> EntitySpec | None:
        return self.target

    @property
    def people(self) -> list[tuple[str, str]]:
        """``(id, name)`` of the active users, the current user first, as "… (me)"."""
        if self._people is None:
            self._people = directory.user_names()
        me = getattr(current_user, "id", None)
        out = [(str(me), _("%(name)s (me)", name=self._people[me]))] if me in self._people else []
        return out + [(str(uid), name) for uid, name in self._people.items() if uid != me]

    @property
    def periods(self) -> list[tuple[str, str]]:
        return list(lv.RELATIVE_LABELS.items())

    def picked(self) -> list[tuple[str, str]]:
        """``(id, name)`` of the records chosen so far in a lookup filter."""
        target = self.target
        ids = [i for i in map(as_id, self.values) if i is not None]
        if target is None or not ids:
            return []
        if self._names is None:
            self._names = present.names_of(current_user, target, ids)
        return [(str(i), self._names.get(i, f"#{i}")) for i in ids]

    @property
    def list_href(self) -> str:
        """The list as it was before this filter (Cancel)."""
        return list_url(self.spec.key, self.state)


def _fields(spec: EntitySpec) -> dict[str, FieldSpec]:
    return listing.readable_fields(current_user, spec)


def _chosen_field(spec: EntitySpec, fields: dict[str, FieldSpec], key: str) -> FieldSpec:
    """The readable field ``key``; ValidationFailed (a 400) for an unknown or hidden one,
    with the same words for both (a hidden field is not revealed)."""
    f = fields.get(key)
    if f is None:
        raise ValidationFailed(
            _(
                "There is no field “%(key)s” to filter %(entities)s by.",
                key=key[:50],
                entities=spec.label_plural,
            )
        )
    return f


def _chosen_op(f: FieldSpec, op: str) -> str:
    if op not in lv.operators_for(f):
        raise ValidationFailed(
            _(
                "%(field)s: “%(op)s” is not a condition for this field.",
                field=f.label,
                op=op[:30],
            )
        )
    return op


def builder_from(spec: EntitySpec, args: MultiDict, *, keep_op: bool = True) -> Builder:
    """The builder for ``args`` (``field``, ``op``, ``value``, ``value2`` and the list's
    state). A blank field or condition is fine (not chosen yet); an unknown or hidden
    field, or a condition the field does not offer, is a ValidationFailed. Without
    ``keep_op`` a condition the field does not offer is replaced by its first one (the
    page without JavaScript after a new field was chosen)."""
    fields = _fields(spec)
    b = Builder(spec=spec, fields=list(fields.values()), state=list_state(args))
    key = (args.get("field") or "").strip()
    if not key:
        return b
    b.field = _chosen_field(spec, fields, key)
    op = (args.get("op") or "").strip()
    if not keep_op and op not in lv.operators_for(b.field):
        op = ""
    b.op = _chosen_op(b.field, op) if op else lv.operators_for(b.field)[0]
    b.values = [v.strip() for v in args.getlist("value") if v.strip()]
    b.value2 = (args.get("value2") or "").strip()
    return b


def _fragment(macro: str, b: Builder, status: int = 200):
    body = get_template_attribute(PARTIAL, macro)(b)
    return vary(make_response(body, status))


def _page(b: Builder, status: int = 200):
    b.fragment = False
    return vary(make_response(render_template("records/filters.html", b=b, spec=b.spec), status))


@bp.get("/<key>/filters/new")
def filter_builder(key: str):
    """The "Add filter" form: a fragment for htmx, a page of its own otherwise."""
    spec = entity_for(key)
    b = builder_from(spec, request.args, keep_op=False)
    return _fragment("builder", b) if is_htmx() else _page(b)


@bp.get("/<key>/filter-input")
def filter_input(key: str):
    """htmx: the condition and value inputs for ``field`` (and ``op``, else the field's
    first condition). A blank field gives the empty state."""
    spec = entity_for(key)
    b = builder_from(spec, request.args)
    if not is_htmx():  # a fragment URL opened directly: the builder page with that choice
        pairs = list(request.args.items(multi=True))
        return redirect(url_for("records.filter_builder", key=key) + _query(pairs))
    return _fragment("parts", b)


@bp.get("/<key>/filters/apply")
def filter_apply(key: str):
    """Add the filter to the list's URL and go there; the builder with the problems (400)
    when the value does not fit the field."""
    spec = entity_for(key)
    b = builder_from(spec, request.args)
    if b.field is None:
        b.errors.append(_("Choose a field to filter by."))
    else:
        found, problems = lv.check_filter(spec, b.to_raw())
        b.errors.extend(problems)
    state = list_state(request.args)
    if not b.errors:
        new_key = filter_key(found)
        kept = [(k, v) for k, v in state if k != new_key]
        if len({k for k, _ in kept if k.startswith("f.")}) >= lv.MAX_FILTERS:
            b.errors.append(
                ngettext(
                    "Use at most %(num)d filter.", "Use at most %(num)d filters.", lv.MAX_FILTERS
                )
            )
    if b.errors:
        return _fragment("builder", b, 400) if is_htmx() else _page(b, 400)
    target = list_url(spec.key, [*kept, *((new_key, v) for v in url_values(found))])
    if is_htmx():
        return location(target, target="#results", select="#results")
    return redirect(target)
