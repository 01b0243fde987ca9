"""No user-visible English left unmarked in the templates.

Every template is parsed with Jinja's own parser (the app's environment, so ``{% trans %}``
blocks are understood and become gettext calls, not text). What is left as text
(``TemplateData``) is put back together, with a placeholder where an expression or a tag
stood, and read as HTML: text between tags containing letters, and the values of the
attributes people read or hear (``title``, ``placeholder``, ``aria-label``, ``alt``,
``label``) written as plain text, are reported with their file and line. So are string
constants a template prints as they are into text or those attributes (``{{ "never" }}``,
``{{ x or "none" }}``, ``{{ "s" if n != 1 else "" }}``; not ``class="c-{{ c or 'gray'
}}"``): marked text is ``{{ _("...") }}`` or ``{% trans %}``.

Left alone: tags and attribute names, entities and punctuation (no letters), ``<script>``
and ``<style>`` bodies, HTML comments, and ``ALLOWED`` (the brand).

Every template is checked (``CHECKED`` covers the whole ``templates`` folder).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import Environment, nodes

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"

CHECKED = (
    "templates/access",
    "templates/auth",
    "templates/errors",
    "templates/base.html",
    "templates/records",
    "templates/home",
    "templates/designer",
    "templates/_macros",
    "templates/pipelines",
    "templates/jobs",
    "templates/imports",
    "templates/golive",
    "templates/activities",
    "templates/webhooks",
    "templates/api_tokens",
    "templates/approvals",
    "templates/notifications",
    "templates/pools",
    "templates/analytics",
    "templates/automation",
    "templates/dedupe",
    "templates/analytics",
    "templates/reports",
)

# Text that is the same in every language, each with the reason.
ALLOWED = {
    "Atelier CRM",  # the brand
    "CSV",  # file formats: the same word in every language
    "Excel",
}
# Attributes whose values people read (tooltips, placeholders) or hear (screen readers).
READ_ATTRIBUTES = frozenset({"title", "placeholder", "aria-label", "alt", "label"})
# Where an expression or a tag stood: no letter, so it never counts as text. Reports show
# it as SHOWN_HOLE.
HOLE = "\ufffc"
SHOWN_HOLE = "{…}"
# Blocks the page frame puts inside an attribute (base.html: ``class="{% block
# main_class %}…"``): their content is CSS classes, not text.
ATTRIBUTE_BLOCKS = frozenset({"body_class", "main_class"})


def environment() -> Environment:
    """The app's Jinja settings that matter to parsing: the i18n extension (``{% trans %}``)
    with the trimmed policy."""
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    env.policies["ext.i18n.trimmed"] = True
    return env


def has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def visible(text: str) -> bool:
    """Text someone would read: letters outside the allowed words."""
    for allowed in ALLOWED:
        text = text.replace(allowed, "")
    return has_letters(text)


@dataclass(frozen=True)
class _Piece:
    """One text node of the template: where it starts in the document read as HTML, and
    on which line of the template."""

    offset: int
    lineno: int
    text: str


def _printed(expr: nodes.Node) -> Iterator[nodes.Const]:
    """The strings an output expression prints as they are: constants, through ``or``,
    ``and``, ``~`` and conditional expressions (not the arguments of calls and filters,
    such as ``url_for('...')`` or ``_("...")``)."""
    if isinstance(expr, nodes.Const) and isinstance(expr.value, str):
        yield expr
    elif isinstance(expr, nodes.CondExpr):
        yield from _printed(expr.expr1)
        if expr.expr2 is not None:
            yield from _printed(expr.expr2)
    elif isinstance(expr, (nodes.Or, nodes.And, nodes.Concat)):
        for child in expr.iter_child_nodes():
            yield from _printed(child)


@dataclass
class _Document:
    """The template's text nodes in source order, joined into one HTML document: a
    ``HOLE`` wherever an expression or a tag separated two of them, and a marker (a
    private-use character, ``MARKS`` + its index in ``printed``) where an expression
    prints a visible constant, so that the HTML reading says whether it lands in text,
    in an attribute people read, or elsewhere (a class name: not text)."""

    text: str = ""
    pieces: list[_Piece] = field(default_factory=list)
    printed: list[nodes.Const] = field(default_factory=list)

    def add_text(self, node: nodes.TemplateData) -> None:
        self.pieces.append(_Piece(len(self.text), node.lineno, node.data))
        self.text += node.data

    def add_hole(self, expr: nodes.Node | None) -> None:
        constants = [c for c in _printed(expr) if visible(c.value)] if expr is not None else []
        for const in constants:
            self.text += chr(MARKS + len(self.printed))
            self.printed.append(const)
        if not constants:
            self.text += HOLE


MARKS = 0xE000  # private-use characters: no letters, and never in a template


def _document(tree: nodes.Template) -> _Document:
    skipped = {
        id(node)
        for block in tree.find_all(nodes.Block)
        if block.name in ATTRIBUTE_BLOCKS
        for node in block.find_all((nodes.TemplateData, nodes.Output))
    }
    document = _Document()
    for output in tree.find_all(nodes.Output):
        if id(output) in skipped:
            continue
        document.add_hole(None)  # a tag (or the start) stood before this output
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                document.add_text(node)
            else:
                document.add_hole(node)
    return document


def _line_of(pieces: list[_Piece], offset: int) -> int:
    """The template line of a position in the document."""
    index = bisect_right([p.offset for p in pieces], offset) - 1
    piece = pieces[max(index, 0)]
    return piece.lineno + piece.text.count("\n", 0, max(0, offset - piece.offset))


def _marks(text: str) -> list[int]:
    return [ord(ch) - MARKS for ch in text if MARKS <= ord(ch) < MARKS + 0x1000]


class _Reader(HTMLParser):
    """Collects (offset in the document, text) of visible text and read attributes, and
    the printed constants that land in either."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=False)
        self.starts = [0]
        for line in document.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.found: list[tuple[int, str]] = []
        self.marks: list[int] = []
        self.raw = 0  # inside <script> or <style>

    def _offset(self, shift: int = 0) -> int:
        line, column = self.getpos()
        return self.starts[line - 1] + column + shift

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.raw += 1
        for name, value in attrs:
            if name not in READ_ATTRIBUTES or not value:
                continue
            self.marks += _marks(value)
            if visible(value):
                self.found.append((self._offset(), f'{name}="{" ".join(value.split())}"'))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self.raw -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.raw:
            self.raw -= 1

    def handle_data(self, data: str) -> None:
        if self.raw:
            return
        self.marks += _marks(data)
        if visible(data):
            first = next(i for i, ch in enumerate(data) if ch.isalpha())
            self.found.append((self._offset(first), " ".join(data.split())))


def unmarked(source: str, name: str = "<string>") -> list[str]:
    """Every piece of user-visible text of a template left unmarked, as
    ``name:line: text`` (the template's line numbers)."""
    tree = environment().parse(source, name=name)
    document = _document(tree)
    reader = _Reader(document.text)
    reader.feed(document.text)
    reader.close()
    problems = []
    for offset, text in reader.found:
        shown = "".join(SHOWN_HOLE if ch == HOLE or _marks(ch) else ch for ch in text)
        problems.append(f"{name}:{_line_of(document.pieces, offset)}: {shown}")
    for index in reader.marks:
        const = document.printed[index]
        problems.append(f"{name}:{const.lineno}: {const.value!r} printed as it is")
    return problems


def templates(paths: tuple[str, ...]) -> list[Path]:
    """The ``.html`` files under ``paths`` (directories or files, relative to the root)."""
    found: list[Path] = []
    for rel in paths:
        path = ROOT / rel
        found += sorted(path.rglob("*.html")) if path.is_dir() else [path]
    return found


def problems_in(paths: tuple[str, ...]) -> list[str]:
    out = []
    for path in templates(paths):
        rel = str(path.relative_to(ROOT))
        out += unmarked(path.read_text(encoding="utf-8"), rel)
    return out


# --- the checker, on planted violations --------------------------------------------------


PLANTED = """{% extends "base.html" %}
{% block content %}
<h1>{{ _("Marked") }}</h1>
<p>Plain text</p>
<p>{% trans name=user.name %}Hello {{ name }}{% endtrans %}</p>
<a href="{{ url_for('x') }}" title="A tooltip">{{ user.name }}</a>
<input placeholder="{{ _('Marked too') }}" aria-label="Say {{ what }}">
<img src="x.png" alt="">
<span>&amp; · × — {{ count }} →</span>
<span>Atelier CRM</span>
<script>var x = "ignored";</script>
{# a comment with words #}
<!-- an HTML comment -->
<td>{{ value or "never" }}</td>
<td>{{ n }} item{{ "" if n == 1 else "s" }}</td>
<option label="Choice">{{ _("Fine") }}</option>
<span class="c-{{ colour or 'gray' }}" title="{{ hint or 'No hint' }}"></span>
{% if x %}<b>In a branch</b>{% endif %}
{% endblock %}
"""


def test_the_checker_finds_what_was_planted_and_nothing_else():
    found = unmarked(PLANTED, "planted.html")
    assert found == [
        "planted.html:4: Plain text",
        'planted.html:6: title="A tooltip"',
        'planted.html:7: aria-label="Say {…}"',
        "planted.html:15: {…} item{…}",
        'planted.html:16: label="Choice"',
        "planted.html:18: In a branch",
        "planted.html:14: 'never' printed as it is",
        "planted.html:15: 's' printed as it is",
        "planted.html:17: 'No hint' printed as it is",
    ]


def test_the_checker_accepts_marked_templates():
    assert unmarked('<p>{{ _("Save") }}</p><a title="{{ _(\'Help\') }}">·</a>') == []
    plural = "{% trans count=n %}{{ count }} user{% pluralize %}{{ count }} users{% endtrans %}"
    assert unmarked(plural) == []
    assert unmarked('{% block main_class %}page wide{% endblock %}<p class="x y">—</p>') == []


# --- the templates --------------------------------------------------------------------------


def test_every_template_is_checked():
    covered = {p.resolve() for p in templates(CHECKED)}
    left_out = [
        str(p.relative_to(ROOT)) for p in TEMPLATES.rglob("*.html") if p.resolve() not in covered
    ]
    assert not left_out, f"templates not in CHECKED: {left_out}"


@pytest.mark.parametrize("path", CHECKED)
def test_no_template_holds_unmarked_text(path):
    problems = problems_in((path,))
    assert not problems, "unmarked text (mark it with _() or {% trans %}):\n" + "\n".join(problems)
