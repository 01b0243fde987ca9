"""List rows drawn by a renderer built once per entity, columns and metadata version.

A generic template loop decides, for every cell of every row, what kind of cell to draw
(the record link, a picklist chip, a lookup link, a user, plain text), looks the field's
type up, calls a macro and a filter and builds a URL with ``url_for``. All of that depends
only on the entity and the view's columns, which change only with the metadata version.
``renderer`` makes those decisions once: each column's type entry gives a cell-drawing
closure (``FieldType.make_cell``: a picklist's chips drawn once, a lookup's link, plain
escaped text), and the renderer keeps them in a list with the column keys; the result is
kept in the version's ``derived`` cache (``crm.metadata.specs``), so a metadata change
builds a new one and the old one goes with the old version. No source is generated.

Each row shows exactly what ``crm.records.present.Display`` says of its values (lookup and
user names resolved in one query per batch, handed to the closures), and every value a
row holds goes through ``markupsafe.escape``; static HTML made from metadata (chips, the
"Account #" fallback) is escaped when the renderer is built.

Markup contract with the bulk actions: the first cell of each list row is
``<td class="pick"><input type="checkbox" name="pick" value="<id>:<version>"
form="bulk-form" aria-label="Select <record name>"></td>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup, escape

from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records.present import Display, entity_urls

CANNOT_SEE = "(a record you cannot see)"
FORMER_USER = "(former user)"

_PICK = '<tr><td class="pick"><input type="checkbox" name="pick" value="'
_PICK_LABEL = '" form="bulk-form" aria-label="'
_PICK_END = '"></td>'
_NAME = "\x00"  # where the record's name goes in the translated "Select %(name)s"
_LINK = '<td><a class="strong" href="'
_HREF_END = '">'
_LINK_END = "</a></td>"
_TR_END = "</tr>\n"


@dataclass(frozen=True)
class RowRenderer:
    """Draws the ``<tr>`` of list rows for one entity and one list of columns."""

    entity_key: str
    fields: tuple[FieldSpec, ...]
    targets: tuple[str | None, ...]  # each column's lookup target entity key, or None
    draw: Callable[..., str]

    def render(self, rows: Iterable[Mapping[str, Any]], display: Display) -> Markup:
        """The rows as HTML: one ``<tr>`` each, every value escaped."""
        names = [display.names(f) for f in self.fields]
        urls = [_record_url(t) if t else "" for t in self.targets]
        html = self.draw(rows, _record_url(self.entity_key), names, urls)
        # Static pieces were escaped when built, every value by escape() in the closures.
        return Markup(html)  # noqa: S704


def _record_url(entity_key: str) -> str:
    """The escaped URL of a record of ``entity_key`` without its id (once per request)."""
    return str(escape(entity_urls(entity_key).record_prefix))


def _build(entity: EntitySpec, columns: Sequence[FieldSpec], pick: bool) -> RowRenderer:
    """The renderer: the first column's text names the record (its link, and the label of
    the selection box), each other column draws its cell with its type's closure."""
    compiled = specs.current()
    targets: list[str | None] = []
    for f in columns:
        ftype = types.get(f.type)
        target = compiled.entity(f.option("target")) if ftype.reference == "record" else None
        targets.append(target.key if target is not None else None)
    keys = [f.key for f in columns]
    label_of = types.get(columns[0].type).cell_text(columns[0]) if columns else None
    cells = [
        types.get(f.type).make_cell(f, t is not None)
        for f, t in zip(columns[1:], targets[1:], strict=True)
    ]
    fallback = str(escape(f"{entity.label_singular} #"))
    # "Select <name>" in the request's language (the renderer is kept per language).
    before, _sep, after = _("Select %(name)s", name=_NAME).partition(_NAME)
    pick_label = _PICK_LABEL + str(escape(before))
    pick_end = str(escape(after)) + _PICK_END
    link = bool(columns) or not pick  # a related list's row links to its record even so

    def draw(rows, record_url: str, names: list, urls: list) -> str:
        first = keys[0] if keys else None
        first_names = names[0] if names else None
        rest = list(zip(keys[1:], cells, names[1:], urls[1:], strict=True))
        out = []
        append = out.append
        for r in rows:
            rid = str(escape(r["id"]))
            label = label_of(r[first], first_names) if label_of is not None else ""
            if not label:
                label = fallback + rid
            if pick:
                parts = [_PICK, rid, ":", str(escape(r["version"])), pick_label, label, pick_end]
            else:
                parts = ["<tr>"]
            if link:
                parts += (_LINK, record_url, rid, _HREF_END, label, _LINK_END)
                for key, cell, n, u in rest:
                    parts.append(cell(r[key], n, u))
            parts.append(_TR_END)
            append("".join(parts))
        return "".join(out)

    return RowRenderer(
        entity_key=entity.key, fields=tuple(columns), targets=tuple(targets), draw=draw
    )


def renderer(entity: EntitySpec, columns: Sequence[FieldSpec], *, pick: bool = True) -> RowRenderer:
    """The row renderer of ``entity`` with ``columns``, built once per metadata
    version (columns differ between views and users' field rights, hence the key), and
    per language and time zone (labels, numbers, money and dates are written as the
    user's language writes them, in their zone). ``pick=False``: no selection box (a
    related list on a record page)."""
    compiled = specs.current()
    cache_key = ("list_rows", entity.key, tuple(f.key for f in columns), pick, types.display_key())
    found = compiled.derived.get(cache_key)
    if found is None:
        found = compiled.derived[cache_key] = _build(entity, columns, pick)
    return found


def render_rows(
    entity: EntitySpec, columns: Sequence[FieldSpec], rows, display: Display, *, pick: bool = True
) -> Markup:
    """The ``<tr>`` of ``rows``: a list page's rows block, or (``pick=False``) a related
    list's."""
    return renderer(entity, columns, pick=pick).render(rows, display)
