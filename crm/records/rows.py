"""List rows drawn by a renderer compiled once per entity, columns and metadata version.

A generic template loop decides, for every cell of every row, what kind of cell to draw
(the record link, a picklist chip, a lookup link, a user, plain text), looks the field's
type up, calls a macro and a filter and builds a URL with ``url_for``. All of that depends
only on the entity and the view's columns, which change only with the metadata version.
``renderer`` makes those decisions once: static HTML (labels, chips with their colours)
is escaped then, and each column gets one small function that draws its cell. They are
kept in the version's ``derived`` cache (``crm.metadata.specs``), so a metadata change
compiles new ones and the old ones go with the old version.

Each row still shows exactly what ``crm.records.present.Display`` says about its values
(lookup and user names resolved in one query per batch), and every value a row holds is
escaped with ``markupsafe.escape``: nothing from the database reaches the page raw.

Markup contract with the bulk actions: the first cell of each row is
``<td class="pick"><input type="checkbox" name="pick" value="<id>:<version>"
form="bulk-form" aria-label="Select <record name>"></td>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import url_for
from markupsafe import Markup, escape

from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records.present import Display

CANNOT_SEE = "(a record you cannot see)"
FORMER_USER = "(former user)"

# (value, names of this column's lookups or users) -> the value as text, not yet escaped;
# "" for an empty value, as ``Display.text``.
TextFn = Callable[[Any, Mapping[Any, str]], str]
# (value, names, URL prefix of the lookup's target) -> the escaped cell, <td> included.
CellFn = Callable[[Any, Mapping[Any, str], str], str]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _text_fn(f: FieldSpec) -> TextFn:
    """How ``Display.text`` reads a value of ``f``, with the type decided once."""
    if f.type == "lookup":

        def lookup_text(value: Any, names: Mapping[Any, str]) -> str:
            return "" if _empty(value) else names.get(value, CANNOT_SEE)

        return lookup_text
    if f.type == "user" or f.key == "owner_id":

        def user_text(value: Any, names: Mapping[Any, str]) -> str:
            return "" if _empty(value) else names.get(value, FORMER_USER)

        return user_text
    fmt = types.get(f.type).format
    if fmt is types.get("text").format:  # text, e-mail, phone, URL...: the value itself

        def plain_text(value: Any, names: Mapping[Any, str]) -> str:
            return "" if _empty(value) else str(value)

        return plain_text

    def formatted_text(value: Any, names: Mapping[Any, str]) -> str:
        return "" if _empty(value) else fmt(f, value)

    return formatted_text


def _cell_fn(f: FieldSpec, has_target: bool) -> CellFn:
    """The cell of a column after the first."""
    text = _text_fn(f)
    if f.type == "picklist":
        chips = {
            c.key: Markup('<td><span class="chip c-{}">{}</span></td>').format(
                c.color or "gray", types.get("picklist").format(f, c.key)
            )
            for c in f.choices
        }

        def chip_cell(value: Any, names: Mapping[Any, str], url: str) -> str:
            if not value:
                return f"<td>{escape(text(value, names))}</td>"
            found = chips.get(value)
            if found is None:  # a key no longer among the choices: shown as stored
                found = f'<td><span class="chip c-gray">{escape(text(value, names))}</span></td>'
            return found

        return chip_cell
    if f.type == "lookup" and has_target:

        def lookup_cell(value: Any, names: Mapping[Any, str], url: str) -> str:
            if not value:
                return f"<td>{escape(text(value, names))}</td>"
            return f'<td><a href="{url}{escape(value)}">{escape(text(value, names))}</a></td>'

        return lookup_cell

    def text_cell(value: Any, names: Mapping[Any, str], url: str) -> str:
        return f"<td>{escape(text(value, names))}</td>"

    return text_cell


@dataclass(frozen=True)
class RowRenderer:
    """Draws the ``<tr>`` of list rows for one entity and one list of columns."""

    entity_key: str
    fields: tuple[FieldSpec, ...]
    keys: tuple[str, ...]
    targets: tuple[str | None, ...]  # each column's lookup target entity key, or None
    first: TextFn | None
    cells: tuple[CellFn, ...]  # columns after the first
    fallback: str  # escaped "Account #" for records without a name

    def render(self, rows: Iterable[Mapping[str, Any]], display: Display) -> Markup:
        """The rows as HTML: one ``<tr>`` each, every value escaped."""
        names = [_names(display, f) for f in self.fields]
        urls = [_record_url(t) if t else "" for t in self.targets]
        record_url = _record_url(self.entity_key)
        keys, first, fallback = self.keys, self.first, self.fallback
        later = list(zip(keys[1:], self.cells, names[1:], urls[1:], strict=True))
        out: list[str] = []
        append = out.append
        for r in rows:
            rid = escape(r["id"])
            label = escape(first(r[keys[0]], names[0])) if first is not None else ""
            if not label:
                label = f"{fallback}{rid}"
            append(
                f'<tr><td class="pick"><input type="checkbox" name="pick" value="{rid}:'
                f'{escape(r["version"])}" form="bulk-form" aria-label="Select {label}"></td>'
            )
            if first is not None:
                append(f'<td><a class="strong" href="{record_url}{rid}">{label}</a></td>')
            for key, cell, column_names, url in later:
                append(cell(r[key], column_names, url))
            append("</tr>\n")
        # Static pieces were escaped when compiled, every value above by escape().
        return Markup("".join(out))  # noqa: S704


def _names(display: Display, f: FieldSpec) -> Mapping[Any, str]:
    """The names ``display`` resolved for the values of column ``f`` (as its ``text``)."""
    if f.type == "lookup":
        return display.lookups.get(f.key, {})
    if f.type == "user" or f.key == "owner_id":
        return display.users
    return {}


def _record_url(entity_key: str) -> str:
    """The escaped URL of a record of ``entity_key`` without its id (one ``url_for`` per
    page, not one per row)."""
    url = url_for("records.record_page", key=entity_key, record_id=0)
    if not url.endswith("/0"):  # the route no longer ends with the id
        raise RuntimeError(f"Unexpected record URL {url!r}")
    return str(escape(url[:-1]))


def _compile(entity: EntitySpec, columns: Sequence[FieldSpec]) -> RowRenderer:
    compiled = specs.current()
    targets: list[str | None] = []
    for f in columns:
        target = compiled.entity(f.option("target")) if f.type == "lookup" else None
        targets.append(target.key if target is not None else None)
    return RowRenderer(
        entity_key=entity.key,
        fields=tuple(columns),
        keys=tuple(f.key for f in columns),
        targets=tuple(targets),
        first=_text_fn(columns[0]) if columns else None,
        cells=tuple(
            _cell_fn(f, t is not None) for f, t in zip(columns[1:], targets[1:], strict=True)
        ),
        fallback=str(escape(f"{entity.label_singular} #")),
    )


def renderer(entity: EntitySpec, columns: Sequence[FieldSpec]) -> RowRenderer:
    """The row renderer of ``entity`` with ``columns``, compiled once per metadata
    version (columns differ between views and users' field rights, hence the key)."""
    compiled = specs.current()
    cache_key = ("list_rows", entity.key, tuple(f.key for f in columns))
    found = compiled.derived.get(cache_key)
    if found is None:
        found = compiled.derived[cache_key] = _compile(entity, columns)
    return found


def render_rows(entity: EntitySpec, columns: Sequence[FieldSpec], rows, display: Display) -> Markup:
    """The ``<tr>`` of ``rows`` (a list page's rows block)."""
    return renderer(entity, columns).render(rows, display)
