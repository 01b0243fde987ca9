"""List views: which columns a record list shows, in which order, sorted and filtered how.

Shared views (``owner_id`` NULL) are configuration: administrators publish them, and every
change is logged and bumps the metadata version, like any other metadata. Private views
belong to one user and are user data: no log, no version bump.

Views are stored as plain field keys. Reading a view drops whatever no longer applies
(archived or purged fields, operators a changed type no longer offers, values that no
longer parse), so an old view never breaks a list; saving a view checks every rule and
reports every problem at once.

Field-level rights are the runtime's business: it must still pass the columns, sort and
filters of a view through ``policy.visible_fields`` before using them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from types import MappingProxyType
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, case, delete, func, select, update

from crm.access.models import User
from crm.access.policy import CONFIGURE, can
from crm.errors import Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.i18n import pick
from crm.ids import as_id, row_of
from crm.metadata import labels, specs, types
from crm.metadata.keys import clean_label, new_key
from crm.metadata.models import ListViewRow
from crm.metadata.spec import EMPTY, EntitySpec, FieldSpec
from crm.metadata.versioning import bump_version, log_change
from crm.uow import unit_of_work

# The spine columns a view may use, as pseudo-fields (their type gives their operators).
SPINE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(key="created_at", type="datetime", label=_l("Created")),
    FieldSpec(key="updated_at", type="datetime", label=_l("Last changed")),
    # The owner is a "user" field whose operators are narrowed: never "is not empty".
    FieldSpec(
        key="owner_id",
        type="user",
        label=_l("Owner"),
        options=MappingProxyType({"operators": ("eq", "in", "is_me", "empty")}),
    ),
)
_SPINE = {f.key: f for f in SPINE_FIELDS}
SPINE_BY_KEY = _SPINE
NO_VALUE_OPS = types.NO_VALUE_OPS
LIST_OPS = types.LIST_OPS
SEARCH_OPS = types.SEARCH_OPS
DIRECTIONS = ("asc", "desc")
MAX_COLUMNS, MAX_SORT, MAX_FILTERS, MAX_VALUES, MAX_NAME = 30, 3, 20, 100, 100
BUILTIN_COLUMNS = 5  # besides the naming field

RELATIVE_LABELS = types.RELATIVE_LABELS


@dataclass(frozen=True)
class FilterSpec:
    """One condition: ``value`` is None (no value needed), a string, or a tuple of strings
    (two for "between", "" for an open end; one or more for "in", "not_in", "contains_any").
    It is in the form ``types.build_filter`` takes."""

    field: str
    op: str
    value: str | tuple[str, ...] | None = None

    def to_data(self) -> dict:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "op": self.op, "value": value}


@dataclass(frozen=True)
class ListViewSpec:
    """A list view as the runtime reads it. ``id`` is None for the built-in view;
    ``owner_id`` is None and ``shared`` True for views published by an administrator."""

    id: int | None
    entity_key: str
    name: str
    owner_id: int | None
    columns: tuple[str, ...]
    sort: tuple[tuple[str, str], ...]
    filters: tuple[FilterSpec, ...]
    is_default: bool
    shared: bool
    # ``name`` is in the reader's language; ``plain_name`` as stored (the company's default
    # language) with its ``translations`` ({locale: text}): what an editor starts from.
    plain_name: str = ""
    translations: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    key: str | None = None  # a shared view's stable key (packages); None when private

    def to_data(self) -> dict:
        """The view as the plain ``data`` dict the save functions take."""
        return {
            "name": self.plain_name or self.name,
            "translations": dict(self.translations),
            "columns": list(self.columns),
            "sort": [list(s) for s in self.sort],
            "filters": [f.to_data() for f in self.filters],
            "is_default": self.is_default,
        }


# --- fields a view may use ------------------------------------------------------------------


def available_fields(entity: EntitySpec) -> tuple[FieldSpec, ...]:
    """The fields a view of ``entity`` may show, sort and filter by: its active fields in
    position order, then Created, Last changed and Owner."""
    return (*entity.active_fields, *SPINE_FIELDS)


def field_for(entity: EntitySpec, key: Any) -> FieldSpec | None:
    """The active field or spine pseudo-field ``key`` of ``entity``, or None."""
    if not isinstance(key, str):
        return None
    return _SPINE.get(key) or entity.field(key)


def operators_for(field: FieldSpec) -> tuple[str, ...]:
    """The filter operators ``field`` offers, in the registry's order."""
    return types.operators_of(field)


def can_sort(field: FieldSpec) -> bool:
    """False for types without a meaningful order (long text, multi-select picklists)."""
    return types.get(field.type).sortable


def needs_value(op: str) -> bool:
    """False for "empty", "not_empty", "is_me", "is_true", "is_false"."""
    return op not in NO_VALUE_OPS


def operator_label(field: FieldSpec, op: str) -> str:
    """``op`` in words for ``field`` ("is one of", "is before" ...)."""
    return types.get(field.type).operator_label(op)


def column_label(entity: EntitySpec, key: str) -> str:
    """The label of a column key (the key itself when it is unknown)."""
    field = field_for(entity, key)
    return str(field.label) if field is not None else key


# --- values ---------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _canon(field: FieldSpec, op: str, raw: Any, *, lenient: bool) -> tuple[str, Any]:
    """One filter value as stored (canonical text) and as parsed (for comparisons).
    ValueError with a message for people when it does not parse with the field's type."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(_("Enter a value."))
    text = str(raw).strip()
    if not text:
        raise ValueError(_("Enter a value."))
    return types.filter_value(field, op, text, lenient=lenient)


def _items(value: Any) -> list:
    if isinstance(value, str):
        return re.split(r"[,;]", value)
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def normalise_value(field: FieldSpec, op: str, value: Any, *, lenient: bool = False) -> Any:
    """The stored form of a filter value for ``field`` and ``op`` (see ``FilterSpec``).
    Raises ValueError with a message for people."""
    if op in NO_VALUE_OPS:
        return None
    if op == "relative":
        name = value[0] if isinstance(value, list | tuple) and len(value) == 1 else value
        if name not in types.RELATIVE_RANGES:
            raise ValueError(_("Choose a period."))
        return name
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError(_("Enter two values: from and to."))
        if _blank(value[0]) and _blank(value[1]):
            raise ValueError(_("Enter at least one of the two values."))
        ends = [None if _blank(v) else _canon(field, op, v, lenient=lenient) for v in value]
        low, high = ends
        if low and high and type(low[1]) is type(high[1]) and low[1] > high[1]:
            raise ValueError(_("The first value must not be after the second."))
        return tuple(end[0] if end else "" for end in ends)
    if op in LIST_OPS:
        items = [v for v in _items(value) if not _blank(v)]
        if not items:
            raise ValueError(_("Choose at least one value."))
        if len(items) > MAX_VALUES:
            raise ValueError(_("Choose at most %(max)d values.", max=MAX_VALUES))
        return tuple(dict.fromkeys(_canon(field, op, v, lenient=lenient)[0] for v in items))
    if isinstance(value, list | tuple):
        if len(value) > 1:
            raise ValueError(_("Enter one value."))
        value = value[0] if value else None
    return _canon(field, op, value, lenient=lenient)[0]


def check_filter(
    entity: EntitySpec, raw: Any, *, lenient: bool = False
) -> tuple[FilterSpec | None, list[str]]:
    """A filter dict ``{field, op, value}`` as a ``FilterSpec``, or the problems with it."""
    if not isinstance(raw, Mapping):
        return None, [_("This filter cannot be read.")]
    key, op = raw.get("field"), raw.get("op")
    field = field_for(entity, key)
    if field is None:
        if _blank(key):
            return None, [_("Choose a field to filter by.")]
        return None, [_("There is no field “%(key)s” to filter by.", key=key)]
    if op not in operators_for(field):
        if _blank(op):
            return None, [_("%(field)s: choose a condition.", field=field.label)]
        return None, [
            _("%(field)s: “%(op)s” is not a condition for this field.", field=field.label, op=op)
        ]
    try:
        value = normalise_value(field, op, raw.get("value"), lenient=lenient)
    except ValueError as exc:
        # TRANSLATORS: a filter's field, then what is wrong with its value.
        return None, [_("%(field)s: %(problem)s", field=field.label, problem=str(exc))]
    return FilterSpec(field.key, op, value), []


# --- validation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clean:
    name: str
    columns: tuple[str, ...]
    sort: tuple[tuple[str, str], ...]
    filters: tuple[FilterSpec, ...]
    is_default: bool
    translations: dict[str, str] | None = None  # None: keep the stored ones


def _sort_item(item: Any) -> tuple[Any, Any]:
    if isinstance(item, Mapping):
        return item.get("field"), item.get("dir", "asc")
    if isinstance(item, list | tuple) and len(item) == 2:
        return item[0], item[1]
    return item, None


def _validate(
    entity: EntitySpec, data: Any, *, owner_id: int | None, view_id: int | None
) -> _Clean:
    """The cleaned view, or ValidationFailed with every problem, keyed by where it is:
    "name", "columns", "sort", "filters" or "filters.<n>" (n counts from 0)."""
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            _("Nothing was saved."), errors={"view": [_("Send the view as a dict.")]}
        )
    errors: dict[str, list[str]] = {}

    def err(where: str, message: str) -> None:
        errors.setdefault(where, []).append(message)

    raw_name = data.get("name")
    name = clean_label(raw_name if isinstance(raw_name, str) else "")
    if not name:
        err("name", _("Enter a name for the view."))
    elif len(name) > MAX_NAME:
        err("name", _("The name is too long: use at most %(max)d characters.", max=MAX_NAME))
    else:
        same = select(ListViewRow.id).where(
            ListViewRow.entity_key == entity.key,
            ListViewRow.owner_id.is_(None)
            if owner_id is None
            else ListViewRow.owner_id == owner_id,
            func.lower(ListViewRow.name) == name.lower(),
        )
        if view_id is not None:
            same = same.where(ListViewRow.id != view_id)
        if db.session.scalar(same.limit(1)) is not None:
            err("name", _("There is already a view called “%(name)s”.", name=name))

    translations = None
    if "translations" in data:
        translations, problems = labels.check(data.get("translations"), limit=MAX_NAME)
        for message in problems:
            err("name", message)

    columns: list[str] = []
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, list | tuple) or not raw_columns:
        err("columns", _("Choose at least one column."))
    else:
        if len(raw_columns) > MAX_COLUMNS:
            err("columns", _("Show at most %(max)d columns.", max=MAX_COLUMNS))
        for key in raw_columns:
            field = field_for(entity, key)
            if field is None:
                err("columns", _("There is no field “%(key)s” to show.", key=key))
            elif field.key in columns:
                err("columns", _("“%(field)s” is chosen twice.", field=field.label))
            else:
                columns.append(field.key)

    sort: list[tuple[str, str]] = []
    raw_sort = data.get("sort") or []
    items = [_sort_item(i) for i in raw_sort] if isinstance(raw_sort, list | tuple) else None
    if items is None:
        err("sort", _("The sort order cannot be read."))
    else:
        items = [(k, d) for k, d in items if not _blank(k)]
        if len(items) > MAX_SORT:
            err("sort", _("Sort by at most %(max)d fields.", max=MAX_SORT))
        for key, direction in items:
            field = field_for(entity, key)
            if field is None:
                err("sort", _("There is no field “%(key)s” to sort by.", key=key))
            elif not can_sort(field):
                kind = str(types.get(field.type).label).lower()
                err(
                    "sort",
                    _(
                        "“%(field)s” cannot be used for sorting (%(type)s field).",
                        field=field.label,
                        type=kind,
                    ),
                )
            elif any(field.key == k for k, _d in sort):
                err("sort", _("“%(field)s” is already used for sorting.", field=field.label))
            elif direction not in DIRECTIONS:
                err("sort", _("“%(field)s”: choose ascending or descending.", field=field.label))
            else:
                sort.append((field.key, direction))

    filters: list[FilterSpec] = []
    raw_filters = data.get("filters") or []
    if not isinstance(raw_filters, list | tuple):
        err("filters", _("The filters cannot be read."))
    else:
        if len(raw_filters) > MAX_FILTERS:
            err("filters", _("Use at most %(max)d filters.", max=MAX_FILTERS))
        for n, raw in enumerate(raw_filters):
            spec, problems = check_filter(entity, raw)
            for message in problems:
                err(f"filters.{n}", message)
            if spec is not None:
                filters.append(spec)

    if errors:
        raise ValidationFailed(_("Nothing was saved."), errors=errors)
    return _Clean(
        name,
        tuple(columns),
        tuple(sort),
        tuple(filters),
        bool(data.get("is_default")),
        translations,
    )


# --- reading --------------------------------------------------------------------------------


def builtin_columns(entity: EntitySpec) -> tuple[str, ...]:
    """The naming field and the first five other active fields (Created and Last changed
    for an entity without fields)."""
    keys = [entity.name_field] if entity.field(entity.name_field or "") else []
    keys += [f.key for f in entity.active_fields if f.key not in keys][:BUILTIN_COLUMNS]
    return tuple(keys) or ("created_at", "updated_at")


def builtin_view(entity: EntitySpec) -> ListViewSpec:
    """The view used when neither the user nor an administrator chose a default."""
    return ListViewSpec(
        id=None,
        entity_key=entity.key,
        name=_l("All records"),
        owner_id=None,
        columns=builtin_columns(entity),
        sort=(("updated_at", "desc"),),
        filters=(),
        is_default=True,
        shared=True,
    )


def _as_spec(row: ListViewRow, entity: EntitySpec) -> ListViewSpec:
    """A row as a spec; whatever no longer applies silently drops out."""
    columns = list(dict.fromkeys(k for k in row.columns or () if field_for(entity, k)))
    sort: list[tuple[str, str]] = []
    for item in row.sort if isinstance(row.sort, list) else ():
        key, direction = _sort_item(item)
        field = field_for(entity, key)
        if field and can_sort(field) and direction in DIRECTIONS and key not in dict(sort):
            sort.append((field.key, direction))
    filters = []
    for raw in row.filters if isinstance(row.filters, list) else ():
        spec, _problems = check_filter(entity, raw, lenient=True)
        if spec is not None:
            filters.append(spec)
    translated = row.translations.get("name") if isinstance(row.translations, dict) else None
    translated = translated if isinstance(translated, dict) else {}
    return ListViewSpec(
        id=row.id,
        entity_key=row.entity_key,
        name=pick(row.name, translated, specs.current().locale),
        owner_id=row.owner_id,
        columns=tuple(columns[:MAX_COLUMNS]) or builtin_columns(entity),
        sort=tuple(sort[:MAX_SORT]),
        filters=tuple(filters),
        is_default=bool(row.is_default),
        shared=row.owner_id is None,
        plain_name=row.name,
        translations=labels.freeze(translated),
        key=row.key,
    )


def _entity(key: str) -> EntitySpec:
    entity = specs.current().entity(key, include_archived=True)
    if entity is None:
        raise NotFound(_("There is no such kind of record."))
    return entity


@cache
def _views_query(shared: bool) -> Select:
    """The statements of ``list_views``, built once: their parameters are bound per call,
    so SQLAlchemy neither rebuilds them nor recomputes their cache keys on every list page.
    Plain rows (no ORM objects): a list page only reads them."""
    owner = (
        ListViewRow.owner_id.is_(None) if shared else ListViewRow.owner_id == bindparam("user_id")
    )
    return (
        select(*(ListViewRow.__table__.c[k] for k in _VIEW_COLUMNS))
        .where(ListViewRow.entity_key == bindparam("entity_key"), owner)
        .order_by(ListViewRow.position, ListViewRow.id)
    )


_VIEW_COLUMNS = (
    "id", "entity_key", "name", "owner_id", "columns", "sort", "filters", "is_default",
    "translations", "key",
)  # fmt: skip


def _shared_views(entity: EntitySpec) -> tuple[ListViewSpec, ...]:
    """The shared views of ``entity`` in their order. They are metadata (every change
    bumps the version), so they are read once per metadata version."""
    compiled = specs.current()
    cache_key = ("shared_views", entity.key)
    found = compiled.derived.get(cache_key)
    if found is None:
        rows = db.session.execute(_views_query(True), {"entity_key": entity.key})
        found = compiled.derived[cache_key] = tuple(_as_spec(r, entity) for r in rows)
    return found


def list_views(entity_key: str, user_id: int | None) -> list[ListViewSpec]:
    """The views ``user_id`` may use on ``entity_key``: the shared ones in their order, then
    the user's own. NotFound for an unknown entity."""
    entity = _entity(entity_key)
    views = list(_shared_views(entity))
    if user_id is not None:
        params = {"entity_key": entity_key, "user_id": user_id}
        views += [_as_spec(r, entity) for r in db.session.execute(_views_query(False), params)]
    return views


def get_view(view_id: int, user_id: int | None) -> ListViewSpec:
    """A shared view, or one of ``user_id``'s own; NotFound otherwise (another user's
    private view is not revealed)."""
    row = row_of(ListViewRow, view_id)
    if row is None or (row.owner_id is not None and row.owner_id != user_id):
        raise NotFound(_("There is no such list view."))
    return _as_spec(row, _entity(row.entity_key))


@cache
def _default_view_query() -> Select:
    """The statement of ``default_view``, built once (see ``_views_query``)."""
    return (
        select(ListViewRow)
        .where(
            ListViewRow.entity_key == bindparam("entity_key"),
            ListViewRow.is_default,
            ListViewRow.owner_id.is_(None) | (ListViewRow.owner_id == bindparam("user_id")),
        )
        .order_by(
            case((ListViewRow.owner_id.is_(None), 1), else_=0),
            ListViewRow.position,
            ListViewRow.id,
        )
        .limit(1)
    )


def default_view(entity_key: str, user_id: int | None) -> ListViewSpec:
    """The user's own default view, else the shared default, else the built-in view."""
    entity = _entity(entity_key)
    params = {"entity_key": entity_key, "user_id": user_id}  # None: only shared views
    row = db.session.scalars(_default_view_query(), params).first()
    return _as_spec(row, entity) if row is not None else builtin_view(entity)


def related_view(entity_key: str) -> ListViewSpec:
    """The columns and order of a related list of ``entity_key`` records: those of the
    shared default view (an administrator's choice, the same for everyone, like a page
    layout's related list), else the built-in view. Its filters do not apply: a related
    list shows every related record the user may read. Shared views are metadata, so this
    is read once per metadata version."""
    compiled = specs.current()
    cache_key = ("related_view", entity_key)
    found = compiled.derived.get(cache_key)
    if found is None:
        shared = default_view(entity_key, None)
        found = compiled.derived[cache_key] = replace(shared, filters=())
    return found


# --- describing -----------------------------------------------------------------------------


def _value_words(field: FieldSpec, value: str, names: Mapping[int, str] | None) -> str:
    ftype = types.get(field.type)
    if ftype.has_choices:
        choice = field.choice(value)
        return choice.label if choice else value
    if ftype.reference == "user" and as_id(value) is not None:
        return (names or {}).get(as_id(value)) or _("user #%(id)s", id=value)
    return types.value_words(field, value)


def describe_filter(
    entity: EntitySpec, f: FilterSpec, names: Mapping[int, str] | None = None
) -> str:
    """A filter in words: "Stage is one of Won, Lost", "Created: Last 7 days". Plain text
    (the template escapes it); ``names`` gives user names by id."""
    field = field_for(entity, f.field)
    if field is None:
        return ""
    label = field.label
    if f.op == "relative":
        period = RELATIVE_LABELS.get(str(f.value), str(f.value))
        return _("%(field)s: %(period)s", field=label, period=period)
    if f.op == "between" and isinstance(f.value, tuple):
        low, high = (_value_words(field, v, names) if v else "" for v in f.value)
        dated = types.get(field.type).temporal
        if low and high:
            return _("%(field)s is between %(low)s and %(high)s", field=label, low=low, high=high)
        if low:
            if dated:
                return _("%(field)s is on or after %(value)s", field=label, value=low)
            return _("%(field)s is at least %(value)s", field=label, value=low)
        if dated:
            return _("%(field)s is on or before %(value)s", field=label, value=high)
        return _("%(field)s is at most %(value)s", field=label, value=high)
    words = operator_label(field, f.op)
    if f.value is None:
        # TRANSLATORS: a filter without a value: a field, then its condition ("Owner is me").
        return _("%(field)s %(condition)s", field=label, condition=words)
    values = f.value if isinstance(f.value, tuple) else (f.value,)
    shown = ", ".join(_value_words(field, v, names) for v in values)
    if types.get(field.type).textual:
        # TRANSLATORS: a filter on text: field, condition, the text typed ("Name contains “Ann”").
        return _("%(field)s %(condition)s “%(value)s”", field=label, condition=words, value=shown)
    # TRANSLATORS: a filter: field, condition, values ("Stage is one of Won, Lost").
    return _("%(field)s %(condition)s %(value)s", field=label, condition=words, value=shown)


def describe_sort(entity: EntitySpec, sort: Iterable[tuple[str, str]]) -> str:
    """ "Last changed (newest first), Name (A to Z)"."""

    def one(key: str, direction: str) -> str:
        field = field_for(entity, key)
        if field is None:
            return key
        ascending, descending = types.get(field.type).sort_words
        words = ascending if direction == "asc" else descending
        # TRANSLATORS: a sort level: a field, then its direction ("Name (A to Z)").
        return _("%(field)s (%(direction)s)", field=field.label, direction=words)

    return ", ".join(one(k, d) for k, d in sort)


# --- writing --------------------------------------------------------------------------------


def _public(row: ListViewRow) -> dict:
    """What the change log keeps of a shared view."""
    return {
        "name": row.name,
        "columns": list(row.columns or []),
        "sort": [list(s) for s in row.sort or []],
        "filters": list(row.filters or []),
        "is_default": bool(row.is_default),
        "translations": dict(row.translations or {}),
    }


def _next_position(entity_key: str, owner_id: int | None) -> int:
    owner = ListViewRow.owner_id.is_(None) if owner_id is None else ListViewRow.owner_id == owner_id
    top = db.session.scalar(
        select(func.max(ListViewRow.position)).where(ListViewRow.entity_key == entity_key, owner)
    )
    return int(top or 0) + 1


def _clear_other_defaults(row: ListViewRow) -> None:
    owner = (
        ListViewRow.owner_id.is_(None)
        if row.owner_id is None
        else ListViewRow.owner_id == row.owner_id
    )
    db.session.execute(
        update(ListViewRow)
        .where(ListViewRow.entity_key == row.entity_key, owner, ListViewRow.id != row.id)
        .values(is_default=False)
    )


def _store(row: ListViewRow, clean: _Clean) -> None:
    row.name = clean.name
    if clean.translations is not None:
        row.translations = {"name": clean.translations} if clean.translations else {}
    row.columns = list(clean.columns)
    row.sort = [list(s) for s in clean.sort]
    row.filters = [f.to_data() for f in clean.filters]
    row.is_default = clean.is_default
    db.session.flush()
    if clean.is_default:
        _clear_other_defaults(row)


def _unit():
    """The unit of work of a list-view change: it commits nothing made outside it, and the
    request's specs are read again after the commit."""
    return unit_of_work(clean=True, after_commit=[specs.forget_request_specs])


def _require_admin(actor_id: int | None) -> None:
    """Shared views are configuration: only administrators (or the system, None) change them."""
    if actor_id is None:
        return
    user = db.session.get(User, actor_id)
    if not can(user, CONFIGURE):
        raise Forbidden(_("Only administrators can change shared views."))


def _shared_row(view_id: int, entity_key: str | None = None) -> ListViewRow:
    row = row_of(ListViewRow, view_id)
    if row is None or row.owner_id is not None or entity_key not in (None, row.entity_key):
        raise NotFound(_("There is no such shared view."))
    return row


def save_shared_view(
    entity_key: str, data: Mapping, *, actor_id: int | None, view_id: int | None = None
) -> ListViewSpec:
    """Publish a new shared view, or change shared view ``view_id``. A new view gets
    ``data["key"]`` as its stable key, else one suggested from its name (a key never
    changes: an existing view's is kept). Logged as "save_list_view" and bumps the metadata
    version. Raises ValidationFailed (every problem,
    nothing saved), NotFound, or Forbidden for an actor who is not an administrator."""
    with _unit():
        entity = _entity(entity_key)
        _require_admin(actor_id)
        row = _shared_row(view_id, entity_key) if view_id is not None else None
        version = bump_version()  # takes the version row lock: shared-view writers queue up
        clean = _validate(entity, data, owner_id=None, view_id=view_id)
        before = _public(row) if row is not None else None
        if row is None:
            taken = db.session.scalars(
                select(ListViewRow.key).where(
                    ListViewRow.entity_key == entity_key, ListViewRow.key.is_not(None)
                )
            )
            key, problems = new_key(clean.name, set(taken), data.get("key"))
            if problems:
                raise ValidationFailed(_("Nothing was saved."), errors={"key": problems})
            row = ListViewRow(entity_key=entity_key, owner_id=None, key=key)
            row.position = _next_position(entity_key, None)
            db.session.add(row)
        _store(row, clean)
        after = _public(row)
        log_change(
            version=version,
            actor_id=actor_id,
            entity_key=entity_key,
            action="save_list_view",
            before=before,
            after=after,
        )
    return _as_spec(row, entity)


def delete_shared_view(view_id: int, *, actor_id: int | None) -> None:
    """Delete a shared view (logged as "delete_list_view"; bumps the version)."""
    with _unit():
        _require_admin(actor_id)
        row = _shared_row(view_id)
        before, entity_key = _public(row), row.entity_key
        version = bump_version()
        db.session.execute(delete(ListViewRow).where(ListViewRow.id == row.id))
        log_change(
            version=version,
            actor_id=actor_id,
            entity_key=entity_key,
            action="delete_list_view",
            before=before,
        )


def set_default_shared_view(view_id: int, *, actor_id: int | None) -> ListViewSpec:
    """Make shared view ``view_id`` the default of its entity (the others stop being it).
    Logged as "default_list_view"; nothing happens when it already is the default."""
    with _unit():
        _require_admin(actor_id)
        row = _shared_row(view_id)
        entity = _entity(row.entity_key)
        if not row.is_default:
            version = bump_version()
            previous = db.session.scalars(
                select(ListViewRow.name).where(
                    ListViewRow.entity_key == row.entity_key,
                    ListViewRow.owner_id.is_(None),
                    ListViewRow.is_default,
                )
            ).first()
            row.is_default = True
            db.session.flush()
            _clear_other_defaults(row)
            log_change(
                version=version,
                actor_id=actor_id,
                entity_key=row.entity_key,
                action="default_list_view",
                before={"default_view": previous},
                after={"default_view": row.name},
            )
    return _as_spec(row, entity)


def _private_row(view_id: int, user_id: int) -> ListViewRow:
    row = row_of(ListViewRow, view_id)
    if row is None or (row.owner_id is not None and row.owner_id != user_id):
        raise NotFound(_("There is no such list view."))
    if row.owner_id is None:
        raise Forbidden(_("Only administrators can change shared views."))
    return row


def save_private_view(
    entity_key: str, data: Mapping, *, user_id: int, view_id: int | None = None
) -> ListViewSpec:
    """Save a new private view of ``user_id``, or change their view ``view_id``. No log,
    no version bump. Raises ValidationFailed, NotFound (unknown entity; another user's
    view) or Forbidden (a shared view)."""
    with _unit():
        entity = specs.current().entity(entity_key)  # the runtime: active entities only
        if entity is None:
            raise NotFound(_("There is no such kind of record."))
        row = _private_row(view_id, user_id) if view_id is not None else None
        if row is not None and row.entity_key != entity_key:
            raise NotFound(_("There is no such list view."))
        clean = _validate(entity, data, owner_id=user_id, view_id=view_id)
        if row is None:
            row = ListViewRow(entity_key=entity_key, owner_id=user_id)
            row.position = _next_position(entity_key, user_id)
            db.session.add(row)
        _store(row, clean)
    return _as_spec(row, entity)


def delete_private_view(view_id: int, *, user_id: int) -> None:
    """Delete one of ``user_id``'s own views. NotFound for another user's view, Forbidden
    for a shared one."""
    with _unit():
        row = _private_row(view_id, user_id)
        db.session.execute(delete(ListViewRow).where(ListViewRow.id == row.id))
