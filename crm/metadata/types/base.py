"""The ``FieldType`` entry and the helpers every family of types shares.

An entry is a frozen dataclass: what a type *is* (storage, form field, parsing, display,
filters, designer options) and what it *can do* (its capabilities). Code outside the
registry asks the entry (``entry.sortable``, ``entry.reference``, ``entry.cell(...)``)
instead of testing a type's name; see ``docs/field-types.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from markupsafe import escape
from sqlalchemy.dialects import postgresql

from crm.metadata.spec import FieldSpec
from crm.metadata.types import importing, l10n
from crm.metadata.types.l10n import Formats

# The parsing helpers every family shares live in ``values.py``; they are imported from
# here too.
from crm.metadata.types.values import (  # noqa: F401
    SEARCH_TERM_MAX,
    blank,
    decimal_value,
    int_option,
    not_a_number,
    search_term,
    text_value,
    too_long,
)

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
NUMERIC_PRECISION = 18
LONG_TEXT_MAX = 100_000

SPACES = dict.fromkeys(map(ord, " \u00a0\u2009\u202f"))  # spaces people put in numbers

# The words of the filter operators; an entry may override some (``op_words``). Lazy:
# each request reads them in its own language.
OP_WORDS: Mapping[str, str] = MappingProxyType({
    "contains": _l("contains"), "equals": _l("is"), "not_equals": _l("is not"),
    "starts_with": _l("starts with"), "empty": _l("is empty"),
    "not_empty": _l("is not empty"), "eq": _l("is"), "ne": _l("is not"),
    "gt": _l("is more than"), "gte": _l("is at least"), "lt": _l("is less than"),
    "lte": _l("is at most"), "between": _l("is between"), "before": _l("is before"),
    "after": _l("is after"), "relative": _l("is in the period"), "is_true": _l("is yes"),
    "is_false": _l("is no"), "in": _l("is one of"), "not_in": _l("is not one of"),
    "contains_any": _l("includes any of"), "is_me": _l("is me"),
})  # fmt: skip
NO_VALUE_OPS = frozenset({"empty", "not_empty", "is_me", "is_true", "is_false"})
LIST_OPS = frozenset({"in", "not_in", "contains_any"})
SEARCH_OPS = frozenset({"contains", "starts_with"})  # any text, whatever the field's type

# A cell closure draws one list cell (``<td>`` included) from a value, the names resolved
# for the batch (users, lookup targets) and the escaped record-URL prefix of the target.
Cell = Callable[[Any, Mapping[Any, str], str], str]
Text = Callable[[Any, Mapping[Any, str]], str]
NO_NAMES: Mapping[Any, str] = MappingProxyType({})


@dataclass(frozen=True)
class Option:
    """A type option the designer offers: its name, label, default and check.

    ``check(value) -> [messages]`` ([] when fine; ``value`` is None when the option is
    missing); ``input`` names the designer input (``text``, ``number``, ``entity``,
    ``on_delete``: the designer form field of the same name as the option); ``read`` turns
    the submitted form value into the stored one (None: leave the option out)."""

    name: str
    label: str
    input: str
    check: Callable[[Any], list[str]]
    default: Any = None
    read: Callable[[Any], Any] = lambda v: v

    def from_form(self, value: Any) -> Any:
        """The stored option for a submitted form value (None: leave it out)."""
        return self.read(value)


@dataclass(frozen=True, kw_only=True)
class FieldType:
    """Everything the application knows about one field type.

    Storage and forms: ``sa_type(spec)`` is the column type, ``storage`` its family;
    ``form_field(spec)`` an unbound WTForms field; ``widget`` the kind of input (the form
    macro is chosen by it). ``parse(spec, raw)`` turns form/CSV/API input (or a typed
    value) into the stored value, ``None`` for blank, ValueError with a message for people
    otherwise. ``format(spec, value)`` is the plain text of a stored value ("" for None).

    Filters: ``operators`` (in menu order), ``op_words`` (overrides of ``OP_WORDS``),
    ``filter_sql`` builds the SQL condition, ``filter_value`` canonicalises one value
    typed into a filter, ``filter_input`` is the kind of input a value takes (text,
    number, date), ``step`` and ``unit`` decorate a number input.

    Capabilities, declared once here and nowhere else: ``reference`` ("record" / "user":
    values are ids whose names are resolved per batch), ``sortable``, ``can_be_unique``,
    ``can_name_records``, ``names_new_entities`` (the first such field names records),
    ``numeric``, ``temporal``, ``textual`` (quick search can index it; filter words quote
    it), ``has_choices``, ``multi_valued``, ``assigned`` (the system gives the value:
    never typed, no default), ``takes_default`` (the designer offers a default value),
    ``index_by_default``, ``managed`` (a feature owns the fields of this type and their
    choices, e.g. pipelines: the designer neither offers the type nor edits its choices);
    ``sort_words`` say what the two sort
    directions mean.

    Display: ``show(spec, formats)`` makes the function that writes a value in one
    language and time zone (``l10n.Formats``; numbers, money, dates); types without one
    write ``format(spec, value)``, the same in every language. ``html`` and ``cell`` draw
    record pages and list cells; ``missing_name`` is shown for a referenced id whose name
    is not known.

    Input: ``read(spec, raw, formats)`` reads what a person typed in their language and
    time zone (``parse_input``; default ``parse``, which reads only the machine forms:
    ISO dates, naive UTC moments, numbers with a point); ``edit(spec, value, formats)``
    is the text a form input shows (default ``input_text``); ``read_hint`` says how a
    typed value was read when that is worth saying (a date typed as 03/04/2026).

    Files: ``sheet(spec, value, formats)`` is the typed cell of a spreadsheet export
    ``(value, number_format)`` (real numbers and dates), ``csv(spec, value, formats)`` the
    text of a CSV export; both default to the value as the screen writes it.

    Designer: ``options`` (each with its default and check), ``default_options``.

    Imports: ``parse_import(spec, value, ctx)`` reads a cleaned cell of a file as people
    write it (``importing``: numbers in either convention, dates in several forms, yes/no
    words; ``ctx`` an ``importing.ImportContext``); default ``parse``, its message
    prefixed with the value. ``import_value`` is what callers use.

    Hooks for what comes next, with working defaults: ``to_json`` (the API's form;
    default ``input_text``), ``aggregates`` (which report aggregations apply; default
    none)."""

    key: str
    label: str
    description: str
    position: int
    sa_type: Callable[[FieldSpec], sa.types.TypeEngine]
    form_field: Callable[[FieldSpec], Any]
    widget: str
    parse: Callable[[FieldSpec, Any], Any]
    storage: str
    operators: tuple[str, ...]
    filter_sql: Callable[..., Any]
    format: Callable[[FieldSpec, Any], str] = None  # type: ignore[assignment]
    op_words: Mapping[str, str] = field(default_factory=dict)
    filter_value: Callable[..., tuple[str, Any]] | None = None
    filter_input: str = "text"
    step: str = "any"
    unit: Callable[[FieldSpec], str] = lambda spec: ""
    # capabilities
    reference: str | None = None
    sortable: bool = True
    sort_words: tuple[str, str] = (_l("A to Z"), _l("Z to A"))
    can_be_unique: bool = True
    can_name_records: bool = False
    names_new_entities: bool = False
    numeric: bool = False
    temporal: bool = False
    textual: bool = False
    has_choices: bool = False
    multi_valued: bool = False
    assigned: bool = False
    takes_default: bool = True
    index_by_default: bool = False
    managed: bool = False
    # What a value of this type is ("email", "phone", "website"), for what recognises such
    # values (the default duplicate rules pick their fields by it); None: nothing special.
    holds: str | None = None
    missing_name: str = ""
    # local formats (see l10n.py): None takes the default
    show: Callable[[FieldSpec, Formats], Callable[[Any], str]] | None = None
    read: Callable[[FieldSpec, Any, Formats], Any] | None = None
    edit: Callable[[FieldSpec, Any, Formats], str] | None = None
    read_hint: Callable[[FieldSpec, str, Any, Formats], str | None] | None = None
    sheet: Callable[[FieldSpec, Any, Formats], tuple[Any, str | None]] | None = None
    csv: Callable[[FieldSpec, Any, Formats], str] | None = None
    describe: Callable[[FieldSpec, str], str] | None = None
    # display: factories of closures; None takes the default
    html: Callable[[FieldSpec, Any, str, Mapping[Any, str], str | None], str] | None = None
    cell: Callable[[FieldSpec, bool], Cell] | None = None
    # designer
    options: tuple[Option, ...] = ()
    default_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # hooks
    parse_import: Callable[[FieldSpec, Any, Any], Any] | None = None
    to_json: Callable[[FieldSpec, Any], Any] | None = None
    aggregates: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Fill the defaults that depend on other attributes (a frozen dataclass: setattr).
        put = object.__setattr__
        if self.show is not None:
            show = self.show

            def local_format(spec: FieldSpec, value: Any) -> str:
                return "" if value is None else show(spec, l10n.current())(value)

            put(self, "format", local_format)
        elif self.format is None:
            put(self, "format", format_str)
        if self.assigned:
            put(self, "takes_default", False)
        if self.parse_import is None:
            put(self, "parse_import", importing.generic(self.parse))
        if self.to_json is None:
            put(self, "to_json", json_value)
        if not self.default_options and self.options:
            defaults = {o.name: o.default for o in self.options if o.default is not None}
            put(self, "default_options", MappingProxyType(defaults))
        elif not isinstance(self.default_options, MappingProxyType):
            put(self, "default_options", MappingProxyType(dict(self.default_options)))

    # -- display: every value escaped; names come resolved for the batch, no queries ----

    def text(self, spec: FieldSpec, value: Any, names: Mapping[Any, str] = NO_NAMES) -> str:
        """A value as plain text ("" when empty); a reference shows its resolved name, or
        ``missing_name`` when the batch did not resolve it."""
        if is_empty(value):
            return ""
        if self.reference:
            return str(names.get(value, self.missing_name))
        return self.format(spec, value)

    def formatter(self, spec: FieldSpec, formats: Formats | None = None) -> Callable[[Any], str]:
        """A function writing non-empty values of ``spec`` as plain text, in the language
        and time zone of ``formats`` (default: the request's). Built once for many values
        (a list's cells): the language is resolved here, not per value."""
        if self.show is not None:
            return self.show(spec, formats or l10n.current())
        fmt = self.format
        return lambda v: fmt(spec, v)

    def value_words(self, spec: FieldSpec, text: str) -> str:
        """A filter value as a saved view keeps it (canonical text: 1234.50, 2026-12-31)
        as the user's language writes it (1.234,50 €, 31 dic 2026); other text as it is."""
        if self.describe is not None:
            return self.describe(spec, text)
        if self.show is None:
            return text
        try:
            value = self.parse(spec, text)
        except (ValueError, TypeError):
            return text
        return text if value is None else self.formatter(spec)(value)

    # -- input --------------------------------------------------------------------------

    def parse_input(self, spec: FieldSpec, value: Any, formats: Formats | None = None) -> Any:
        """What a person typed (a form, inline or bulk edit, a list filter), read in their
        language and time zone (``formats``, default the request's), as ``parse`` gives
        it: the stored value, None for blank, ValueError with a message for people.
        Machine forms (ISO dates, numbers with a point) are always accepted."""
        if self.read is None:
            return self.parse(spec, value)
        return self.read(spec, value, formats or l10n.current())

    def import_value(
        self, spec: FieldSpec, raw: Any, ctx: importing.ImportContext | None = None
    ) -> Any:
        """A cell of an imported file (text, or a typed XLSX value) as the stored value:
        None for an empty cell, a lone space or a word for "empty" (NULL, N/A...);
        ``importing.ValueProblem`` (a ValueError) with a message quoting the value."""
        ctx = ctx or importing.ImportContext(formats=l10n.current())
        value = importing.clean(raw, ctx)
        if value is None:
            return None
        return self.parse_import(spec, value, ctx)

    def import_reader(
        self, spec: FieldSpec, ctx: importing.ImportContext | None = None
    ) -> Callable[[Any], Any]:
        """``import_value`` of ``spec`` with ``ctx`` as a function of the cell alone, made
        once for a column's many cells (the hook and the context are looked up here, not
        per cell). Same values, same problems."""
        ctx = ctx or importing.ImportContext(formats=l10n.current())
        clean, parse = importing.clean, self.parse_import

        def read(raw: Any) -> Any:
            value = clean(raw, ctx)
            if value is None:
                return None
            return parse(spec, value, ctx)

        return read

    def input_value(self, spec: FieldSpec, value: Any, formats: Formats | None = None) -> str:
        """A stored value as a form input shows it to the user ("" for None)."""
        if value is None:
            return ""
        if self.edit is None:
            return input_text(spec, value)
        return self.edit(spec, value, formats or l10n.current())

    def hint(self, spec: FieldSpec, raw: Any, value: Any, formats: Formats | None = None) -> str:
        """How a typed ``raw`` text was read as ``value``, when worth saying ("Read as
        3 April 2026."), else ""."""
        if self.read_hint is None or value is None or not isinstance(raw, str):
            return ""
        return self.read_hint(spec, raw, value, formats or l10n.current()) or ""

    # -- files --------------------------------------------------------------------------

    def sheet_cell(
        self,
        spec: FieldSpec,
        value: Any,
        names: Mapping[Any, str] = NO_NAMES,
        formats: Formats | None = None,
    ) -> tuple[Any, str | None]:
        """A value as a spreadsheet cell: ``(value, number format)``; real numbers and
        dates for the types that have them, else the text the screen shows."""
        if is_empty(value):
            return None, None
        if self.sheet is not None:
            return self.sheet(spec, value, formats or l10n.current())
        return self.text(spec, value, names), None

    def csv_text(
        self,
        spec: FieldSpec,
        value: Any,
        names: Mapping[Any, str] = NO_NAMES,
        formats: Formats | None = None,
    ) -> str:
        """A value as a CSV export writes it: numbers and dates in their machine form
        (1234.50, 2026-12-31, date-times in the user's zone as 2026-12-31 14:30), anything
        else as the screen shows it."""
        if is_empty(value):
            return ""
        if self.csv is not None:
            return self.csv(spec, value, formats or l10n.current())
        return self.text(spec, value, names)

    def render_html(
        self,
        spec: FieldSpec,
        value: Any,
        names: Mapping[Any, str] = NO_NAMES,
        target_url: str | None = None,
    ) -> str:
        """A non-empty value as a record page shows it, as escaped HTML (a ``str``).
        ``target_url``: the escaped record-URL prefix of a lookup's target, when the user
        may open its records."""
        shown = self.text(spec, value, names)
        if self.html is not None:
            return self.html(spec, value, shown, names, target_url)
        return escaped(shown)

    def cell_text(self, spec: FieldSpec) -> Text:
        """A closure ``(value, names) -> escaped text`` ("" when empty), as ``text``."""
        if self.reference:
            missing = self.missing_name

            def ref(v: Any, names: Mapping[Any, str]) -> str:
                return "" if v is None or v == "" or v == [] else escaped(names.get(v, missing))

            return ref
        if self.show is None and self.format is format_str:  # skip a call per cell

            def plain(v: Any, names: Mapping[Any, str]) -> str:
                return "" if v is None or v == "" or v == [] else escaped(v)

            return plain
        fmt = self.formatter(spec)

        def formatted(v: Any, names: Mapping[Any, str]) -> str:
            return "" if v is None or v == "" or v == [] else escaped(fmt(v))

        return formatted

    def make_cell(self, spec: FieldSpec, has_target: bool) -> Cell:
        """A closure ``(value, names, target_url) -> "<td>...</td>"`` drawing this
        field's list cell in the request's language and time zone; built once per
        metadata version, language and zone (``crm.records.rows``)."""
        if self.cell is not None:
            return self.cell(spec, has_target)
        # One call per cell (the list draws hundreds): each variant inlines its text.
        if self.reference:
            missing = self.missing_name

            def ref(v: Any, names: Mapping[Any, str], url: str) -> str:
                if v is None or v == "" or v == []:
                    return "<td></td>"
                return "".join(("<td>", escape(names.get(v, missing)), "</td>"))

            return ref
        if self.show is None and self.format is format_str:

            def plain(v: Any, names: Mapping[Any, str], url: str) -> str:
                if v is None or v == "" or v == []:
                    return "<td></td>"
                return "".join(("<td>", escape(v), "</td>"))

            return plain
        fmt = self.formatter(spec)

        def formatted(v: Any, names: Mapping[Any, str], url: str) -> str:
            if v is None or v == "" or v == []:
                return "<td></td>"
            return "".join(("<td>", escape(fmt(v)), "</td>"))

        return formatted

    def operator_label(self, op: str) -> str:
        """``op`` in words for this type ("is one of", "is before" ...)."""
        return self.op_words.get(op) or OP_WORDS.get(op, op)

    def check_options(self, options: Mapping[str, Any]) -> dict[str, list[str]]:
        """Problems with the options this type takes, as ``{option: [messages]}``."""
        problems: dict[str, list[str]] = {}
        for o in self.options:
            messages = o.check(options.get(o.name))
            if messages:
                problems.setdefault(o.name, []).extend(messages)
        return problems


# --- formatting --------------------------------------------------------------------------


def format_str(spec: FieldSpec, value: Any) -> str:
    """The value as it is ("" for None)."""
    return "" if value is None else str(value)


def input_text(spec: FieldSpec, value: Any) -> str:
    """A stored value as a form input shows it (plain numbers, ISO dates, raw keys)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, Decimal | date):
        return f"{value:f}" if isinstance(value, Decimal) else value.isoformat()
    return str(value)


def json_value(spec: FieldSpec, value: Any) -> Any:
    """The default JSON form of a stored value: numbers, booleans and lists as they are,
    decimals, dates and moments as their form input text, None as null."""
    if value is None or isinstance(value, bool | int | list | str):
        return value
    return input_text(spec, value)


def is_empty(value: Any) -> bool:
    """True for the values shown as nothing: None, "" and []."""
    return value is None or value == "" or value == []


def escaped(text: Any) -> str:
    """``text`` HTML-escaped, as a plain ``str`` (joined with other escaped pieces)."""
    return str(escape(text))


# --- storage -----------------------------------------------------------------------------


def numeric_type(spec: FieldSpec) -> sa.types.TypeEngine:
    return sa.Numeric(NUMERIC_PRECISION, int(spec.option("decimal_places", 2)))


def json_type(spec: FieldSpec) -> sa.types.TypeEngine:
    # none_as_null: Python None must be SQL NULL (not the JSON value null) for "empty".
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def fixed(sa_type: type[sa.types.TypeEngine], *args: Any) -> Callable[[FieldSpec], Any]:
    """A column type that does not depend on the field's options."""
    return lambda spec: sa_type(*args)
