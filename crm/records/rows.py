"""List rows drawn by a function compiled once per entity, columns and metadata version.

A generic template loop decides, for every cell of every row, what kind of cell to draw
(the record link, a picklist chip, a lookup link, a user, plain text), looks the field's
type up, calls a macro and a filter and builds a URL with ``url_for``. All of that depends
only on the entity and the view's columns, which change only with the metadata version.
``renderer`` makes those decisions once and writes them down as the source of one Python
function, one expression per cell, which it compiles; the result is kept in the version's
``derived`` cache (``crm.metadata.specs``), so a metadata change compiles a new one and
the old one goes with the old version.

What the source holds: generated local names (``v3``, ``n3``...), names of constants
(``K3``, the column's key; ``CH3``, its chips; ``S_PICK``...) and the fixed text of this
module. Keys, labels, colours and every other piece of metadata reach the function only as
values of those constants, never as source text, and static HTML made from them (chips,
the "Account #" fallback) is escaped when compiled. Each row shows exactly what
``crm.records.present.Display`` says of its values (lookup and user names resolved in one
query per batch), and every value a row holds goes through ``markupsafe.escape``.

Markup contract with the bulk actions: the first cell of each list row is
``<td class="pick"><input type="checkbox" name="pick" value="<id>:<version>"
form="bulk-form" aria-label="Select <record name>"></td>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records.present import Display, entity_urls

CANNOT_SEE = "(a record you cannot see)"
FORMER_USER = "(former user)"

# The fixed HTML of a row, around the values.
_STATIC = {
    "S_PICK": '<tr><td class="pick"><input type="checkbox" name="pick" value="',
    "S_PICK_LABEL": '" form="bulk-form" aria-label="Select ',
    "S_PICK_END": '"></td>',
    "S_TR": "<tr>",
    "S_LINK": '<td><a class="strong" href="',
    "S_HREF_END": '">',
    "S_LINK_END": "</a></td>",
    "S_TD": "<td>",
    "S_TD_END": "</td>",
    "S_A": '<td><a href="',
    "S_UNKNOWN_CHIP": '<td><span class="chip c-gray">',
    "S_CHIP_END": "</span></td>",
    "S_TR_END": "</tr>\n",
}


@dataclass(frozen=True)
class RowRenderer:
    """Draws the ``<tr>`` of list rows for one entity and one list of columns."""

    entity_key: str
    fields: tuple[FieldSpec, ...]
    targets: tuple[str | None, ...]  # each column's lookup target entity key, or None
    source: str  # the generated function, for reading and for tests
    draw: Callable[..., str]

    def render(self, rows: Iterable[Mapping[str, Any]], display: Display) -> Markup:
        """The rows as HTML: one ``<tr>`` each, every value escaped."""
        names = [_names(display, f) for f in self.fields]
        urls = [_record_url(t) if t else "" for t in self.targets]
        html = self.draw(rows, _record_url(self.entity_key), names, urls)
        # Static pieces were escaped when compiled, every value by escape() in ``draw``.
        return Markup(html)  # noqa: S704


def _names(display: Display, f: FieldSpec) -> Mapping[Any, str]:
    """The names ``display`` resolved for the values of column ``f`` (as its ``text``)."""
    if f.type == "lookup":
        return display.lookups.get(f.key, {})
    if f.type == "user" or f.key == "owner_id":
        return display.users
    return {}


def _record_url(entity_key: str) -> str:
    """The escaped URL of a record of ``entity_key`` without its id (once per request)."""
    return str(escape(entity_urls(entity_key).record_prefix))


def _text(i: int, f: FieldSpec, consts: dict[str, Any]) -> str:
    """The expression of column ``i``'s value as escaped text, as ``Display.text`` reads
    it ("" for an empty value)."""
    v = f"v{i}"
    empty = f'{v} is None or {v} == "" or {v} == []'
    if f.type == "lookup":
        shown = f"e(n{i}.get({v}, CANNOT_SEE))"
    elif f.type == "user" or f.key == "owner_id":
        shown = f"e(n{i}.get({v}, FORMER_USER))"
    elif types.get(f.type).format is types.get("text").format:  # the value itself
        shown = f"e({v})"
    else:
        consts[f"F{i}"], consts[f"C{i}"] = types.get(f.type).format, f
        shown = f"e(F{i}(C{i}, {v}))"
    return f'("" if {empty} else {shown})'


def _cell(i: int, f: FieldSpec, has_target: bool, consts: dict[str, Any]) -> list[str]:
    """The expressions of column ``i``'s cell (after the first), ``<td>`` included: the
    row joins them.

    Pieces are put together with ``"".join``, never ``+``: ``str + Markup`` would escape
    the ``str`` (``Markup.__radd__``)."""
    text = _text(i, f, consts)
    plain = f'"".join((S_TD, {text}, S_TD_END))'
    if f.type == "picklist":
        consts[f"CH{i}"] = {
            c.key: str(
                Markup('<td><span class="chip c-{}">{}</span></td>').format(
                    c.color or "gray", types.get("picklist").format(f, c.key)
                )
            )
            for c in f.choices
        }
        # A key no longer among the choices shows as stored, on a grey chip.
        unknown = f'"".join((S_UNKNOWN_CHIP, e(v{i}), S_CHIP_END))'
        return [f"((CH{i}.get(v{i}) or {unknown}) if v{i} else {plain})"]
    if f.type == "lookup" and has_target:
        name = f"e(n{i}.get(v{i}, CANNOT_SEE))"
        link = f'"".join((S_A, u{i}, e(v{i}), S_HREF_END, {name}, S_LINK_END))'
        return [f"({link} if v{i} else {plain})"]
    return ["S_TD", text, "S_TD_END"]


def _compile(entity: EntitySpec, columns: Sequence[FieldSpec], pick: bool) -> RowRenderer:
    compiled = specs.current()
    targets: list[str | None] = []
    for f in columns:
        target = compiled.entity(f.option("target")) if f.type == "lookup" else None
        targets.append(target.key if target is not None else None)
    consts: dict[str, Any] = {
        **_STATIC,
        "e": escape,
        "CANNOT_SEE": CANNOT_SEE,
        "FORMER_USER": FORMER_USER,
        "FALLBACK": str(escape(f"{entity.label_singular} #")),
    }
    lines = [
        "def draw(rows, record_url, names, urls):",
        *(f"    n{i} = names[{i}]; u{i} = urls[{i}]" for i in range(len(columns))),
        "    out = []",
        "    append = out.append",
        "    for r in rows:",
        '        rid = e(r["id"])',
    ]
    for i, f in enumerate(columns):
        consts[f"K{i}"] = f.key
        lines.append(f"        v{i} = r[K{i}]")
    if columns:
        lines += [
            f"        label = {_text(0, columns[0], consts)}",
            '        if not label: label = "".join((FALLBACK, rid))',
        ]
    else:
        lines.append('        label = "".join((FALLBACK, rid))')
    parts = ['S_PICK, rid, ":", e(r["version"]), S_PICK_LABEL, label, S_PICK_END'] if pick else []
    if not pick:
        parts.append("S_TR")
    if columns or not pick:  # a related list's row links to its record even so
        parts.append("S_LINK, record_url, rid, S_HREF_END, label, S_LINK_END")
        for i, (f, t) in enumerate(zip(columns, targets, strict=True)):
            if i:
                parts.append(", ".join(_cell(i, f, t is not None, consts)))
    parts.append("S_TR_END")
    lines += [
        '        append("".join((',
        *(f"            {p}," for p in parts),
        "        )))",
        '    return "".join(out)',
    ]
    source = "\n".join(lines) + "\n"
    namespace = dict(consts)
    # The source is this module's own text around generated names (see the module's
    # docstring); the metadata is only in ``namespace``.
    exec(compile(source, f"<list rows of {entity.key}>", "exec"), namespace)  # noqa: S102
    return RowRenderer(
        entity_key=entity.key,
        fields=tuple(columns),
        targets=tuple(targets),
        source=source,
        draw=namespace["draw"],
    )


def renderer(entity: EntitySpec, columns: Sequence[FieldSpec], *, pick: bool = True) -> RowRenderer:
    """The row renderer of ``entity`` with ``columns``, compiled once per metadata
    version (columns differ between views and users' field rights, hence the key).
    ``pick=False``: no selection box (a related list on a record page)."""
    compiled = specs.current()
    cache_key = ("list_rows", entity.key, tuple(f.key for f in columns), pick)
    found = compiled.derived.get(cache_key)
    if found is None:
        found = compiled.derived[cache_key] = _compile(entity, columns, pick)
    return found


def render_rows(
    entity: EntitySpec, columns: Sequence[FieldSpec], rows, display: Display, *, pick: bool = True
) -> Markup:
    """The ``<tr>`` of ``rows``: a list page's rows block, or (``pick=False``) a related
    list's."""
    return renderer(entity, columns, pick=pick).render(rows, display)
