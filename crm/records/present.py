"""How records read on screen: names, lookups and users resolved in batches, formatting."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from crm.access import directory, policy
from crm.extensions import db
from crm.ids import as_id
from crm.metadata import list_views, specs, types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.metadata.types.base import NO_NAMES
from crm.records.query import scoped, table_of

# The spine's columns (crm.metadata.list_views.SPINE_FIELDS) are named by the application,
# not by an administrator: their labels are translated like the rest of the interface.
SPINE_LABELS = {
    "created_at": _l("Created"),
    "updated_at": _l("Last changed"),
    "owner_id": _l("Owner"),
}


def field_label(f: FieldSpec) -> str:
    """The label of a field or spine column as people read it: "Created", "Last changed"
    and "Owner" in the request's language, an administrator's label as they typed it."""
    spine = SPINE_LABELS.get(f.key)
    if spine is not None and list_views.SPINE_BY_KEY.get(f.key) is f:
        return str(spine)
    return f.label


def record_name(spec: EntitySpec, row: Mapping[str, Any], user: Any = None) -> str:
    """A record's display name as ``user`` (default: the signed-in user) may read it: its
    naming field, else "Account #12" (also when the naming field is hidden from them)."""
    return record_namer(spec, user)(row)


def record_namer(spec: EntitySpec, user: Any = None) -> Callable[[Mapping[str, Any]], str]:
    """``record_name`` for many rows of ``spec`` read by one user (a board's cards): the
    naming field's right is asked once, not per row."""
    f = spec.field(spec.name_field) if spec.name_field else None
    if f is not None and policy.field_access(_who(user), spec, f.key) == policy.HIDDEN:
        f = None
    show = types.get(f.type).format if f is not None else None
    label = spec.label_singular

    def name(row: Mapping[str, Any]) -> str:
        if f is not None and row.get(f.key) not in (None, ""):
            return show(f, row[f.key])
        return f"{label} #{row['id']}"

    return name


def _who(user: Any) -> Any:
    if user is not None:
        return user
    from flask_login import current_user

    return current_user


def names_of(user: Any, target: EntitySpec, ids: Iterable[int]) -> dict[int, str]:
    """Display names of the ``ids`` of ``target`` that ``user`` may see (one query)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    table = table_of(target)
    columns = [table.c.id]
    if target.name_field and target.field(target.name_field):
        columns.append(table.c[target.name_field])
    rows = db.session.execute(
        scoped(user, target, "read", columns=columns).where(table.c.id.in_(wanted))
    ).mappings()
    return {r["id"]: record_name(target, r, user) for r in rows}


class Display:
    """Formats values of one batch of rows, resolving lookups and users once per batch."""

    def __init__(self, user: Any, spec: EntitySpec, fields: Iterable[FieldSpec], rows: list):
        self.fields = list(fields)
        self.lookups: dict[str, dict[int, str]] = {}
        self.targets: dict[str, EntitySpec] = {}
        compiled = specs.current()
        user_ids: set[int] = set()
        for f in self.fields:
            reference = types.get(f.type).reference
            if reference == "record":
                target = compiled.entity(f.option("target"))
                if target is not None:
                    self.targets[f.key] = target
                    self.lookups[f.key] = names_of(user, target, (r[f.key] for r in rows))
            elif reference == "user":
                user_ids.update(r[f.key] for r in rows if r[f.key] is not None)
        self.users = directory.user_names(user_ids) if user_ids else {}
        # Per field, for types whose value on a page is just its escaped text: the type's
        # text closure, the language resolved once for the batch (a board draws hundreds).
        self.plain: dict[str, Any] = {}
        for f in self.fields:
            entry = types.get(f.type)
            if entry.html is None and not entry.reference:
                self.plain[f.key] = entry.cell_text(f)

    def names(self, f: FieldSpec) -> Mapping[Any, str]:
        """The names resolved for the values of ``f`` in this batch ({} unless the field's
        type is a reference)."""
        reference = types.get(f.type).reference
        if reference == "record":
            return self.lookups.get(f.key, {})
        return self.users if reference == "user" else {}

    def text(self, f: FieldSpec, value: Any) -> str:
        """A value as plain text ("" when empty), references by their resolved names."""
        return types.get(f.type).text(f, value, self.names(f))

    @staticmethod
    def label(f: FieldSpec) -> str:
        """``field_label``: a column's or a value's label on screen."""
        return field_label(f)

    def target(self, f: FieldSpec) -> EntitySpec | None:
        return self.targets.get(f.key)

    def html(self, f: FieldSpec, value: Any) -> Markup:
        """A value as a record page shows it (the type's ``render_html``: picklist values
        on their colour, a lookup as a link to the record when the user may see it, links
        for URLs and e-mail addresses, long text keeping its lines), "—" when empty. Every
        value is escaped.

        Built with ``escape`` and plain string joins: ``Markup.format`` runs a Python-level
        formatter and cost more than the rest of the record page's values together."""
        if value is None or value == "" or value == []:
            return EMPTY
        plain = self.plain.get(f.key)
        if plain is not None:
            return Markup(plain(value, NO_NAMES))  # noqa: S704 - escaped by the entry
        target = self.targets.get(f.key)
        url = str(escape(entity_urls(target.key).record_prefix)) if target is not None else None
        shown = types.get(f.type).render_html(f, value, self.names(f), url)
        return Markup(shown)  # noqa: S704 - the entries escape every value

    def inline_html(
        self, f: FieldSpec, value: Any, edit_url: str | None = None, fallback_url: str = ""
    ) -> Markup:
        """A value on the record page; with ``edit_url`` it offers to edit it in place
        (htmx; ``fallback_url``, the edit form, without JavaScript)."""
        link = ""
        if edit_url:
            label = escape(_("Edit %(field)s", field=f.label))
            link = (
                f'<a class="inline-edit" href="{escape(fallback_url)}" hx-get="{escape(edit_url)}"'
                ' hx-target="closest .inline-value" hx-swap="outerHTML"'
                f' aria-label="{label}" title="{label}">{escape(_("Edit"))}</a>'
            )
        return Markup(  # noqa: S704 - every piece escaped
            f'<div class="inline-value" id="fv-{escape(f.key)}">\n'
            f'  <span class="inline-text">{self.html(f, value)}</span>\n'
            f"  {link}\n</div>"
        )

    def values_html(
        self,
        keys: Iterable[str],
        fields: Mapping[str, FieldSpec],
        row: Mapping[str, Any],
        *,
        editable: Container[str] = (),
        edit_url: str = "",
        fallback_url: str = "",
    ) -> Markup:
        """The ``<dt>``/``<dd>`` pairs of one column of a record page's layout: the fields
        of ``keys`` found in ``fields`` (those the user may read), each editable in place
        when its key is in ``editable`` (``edit_url`` holds ``FIELD`` where the key goes:
        keys are ``[a-z0-9_]``, so it cannot be part of one)."""
        out = []
        for key in keys:
            f = fields.get(key)
            if f is None:
                continue
            if key in editable:
                shown = self.inline_html(f, row[key], edit_url.replace("FIELD", key), fallback_url)
            else:
                shown = self.html(f, row[key])
            out.append(f"<dt>{escape(f.label)}</dt><dd>{shown}</dd>\n")
        return Markup("".join(out))  # noqa: S704 - every piece escaped


EMPTY = Markup('<span class="muted">—</span>')


class RecordUrls:
    """The URLs of one record's pages and fragments, from ``EntityUrls`` (one ``url_for``
    per entity and request): the record page draws a dozen, and each ``url_for`` walks the
    URL map. Every route here is
    ``/r/<key>/<id>/...`` in ``crm.records`` (a test compares each with ``url_for``)."""

    def __init__(self, entity_key: str, record_id: int) -> None:
        self.page = f"{entity_urls(entity_key).record_prefix}{int(record_id)}"
        self.edit = f"{self.page}/edit"
        self.delete = f"{self.page}/delete"
        self.notes = f"{self.page}/notes"
        self.sharing = f"{self.page}/sharing"
        self.field_edit = f"{self.page}/field/FIELD/edit"  # FIELD: see Display.values_html

    def related(self, source: str, field_key: str) -> str:
        return f"{self.page}/related/{source}/{field_key}"


class EntityUrls:
    """The URLs of an entity's list and its actions, from one ``url_for`` (routes under
    ``/r/<key>/`` in ``crm.records``; a test compares each with ``url_for``)."""

    def __init__(self, entity_key: str) -> None:
        self.list = url_for("records.record_list", key=entity_key)  # ends with "/"
        self.record_prefix = self.list  # a record's page is this and its id
        self.new = f"{self.list}new"
        self.quick_new = f"{self.list}new?quick=1"
        self.bin = f"{self.list}bin"
        self.count = f"{self.list}count"
        self.export_csv = f"{self.list}export.csv"
        self.export_xlsx = f"{self.list}export.xlsx"
        self.bulk_edit = f"{self.list}bulk/edit"
        self.bulk_input = f"{self.list}bulk/input"
        self.bulk_assign = f"{self.list}bulk/assign"
        self.bulk_delete = f"{self.list}bulk/delete"


def entity_urls(entity_key: str) -> EntityUrls:
    """``EntityUrls``, once per request and entity."""
    from flask import g

    cache = g.setdefault("_entity_urls", {})
    found = cache.get(entity_key)
    if found is None:
        found = cache[entity_key] = EntityUrls(entity_key)
    return found


def record_urls(entity_key: str, record_id: int) -> RecordUrls:
    """``RecordUrls``, once per request and record (several blocks of a page ask)."""
    from flask import g

    cache = g.setdefault("_record_urls", {})
    found = cache.get((entity_key, record_id))
    if found is None:
        found = cache[(entity_key, record_id)] = RecordUrls(entity_key, record_id)
    return found


def readable_timeline(user: Any, spec: EntitySpec, entries: list) -> list:
    """Timeline entries whose field changes read as people see values: labels of picklist
    values, names of looked-up records and users, formatted numbers and dates (the history
    stores raw values). Each change becomes ``(label, old_text, new_text)``."""
    from dataclasses import replace

    fields = {f.key: f for f in spec.active_fields}
    fields["owner_id"] = list_views.SPINE_BY_KEY["owner_id"]
    changed = [(k, old, new) for e in entries for k, old, new in e.changes if k in fields]
    keys = {k for k, _, _ in changed}
    # One batch of "rows" holding every old and new value, so lookups resolve in one query
    # per field.
    rows = [
        {**dict.fromkeys(keys), k: _stored(fields[k], v)}
        for k, old, new in changed
        for v in (old, new)
    ]
    display = Display(user, spec, [fields[k] for k in keys], rows)
    out = []
    for e in entries:
        texts = tuple(
            (
                field_label(fields[k]),
                display.text(fields[k], _stored(fields[k], old)) or "—",
                display.text(fields[k], _stored(fields[k], new)) or "—",
            )
            for k, old, new in e.changes
            if k in fields
        )
        if e.kind == "share":
            from crm.records.sharing import describe_share_change

            out.append(replace(e, body=describe_share_change(e.changes), changes=()))
            continue
        out.append(replace(e, changes=texts))
    return out


def _stored(f: FieldSpec, value: Any) -> Any:
    """A history value (JSON: numbers and dates as text) back in its stored Python form."""
    if value is None:
        return None
    try:
        ftype = types.get(f.type)
        return value if ftype.assigned else ftype.parse(f, value)
    except ValueError:
        return value


def form_lookup_names(
    user: Any, fields: Iterable[FieldSpec], values: Mapping[str, Any]
) -> dict[str, str]:
    """Display names of the lookup values a form shows, by field key, as ``user`` may read
    them (one query per lookup field); values that are not ids or not readable are left out."""
    out: dict[str, str] = {}
    compiled = specs.current()
    for f in fields:
        if types.get(f.type).reference != "record":
            continue
        raw = values.get(f.key)
        record_id = as_id(raw) if raw not in (None, "") else None
        target = compiled.entity(f.option("target"))
        if record_id is not None and target is not None:
            name = names_of(user, target, [record_id]).get(record_id)
            if name:
                out[f.key] = name
    return out
