"""The field-type registry: the one place that knows what a field type is.

``REGISTRY`` maps each type key to its ``FieldType`` entry (``base.py``), in the order
the designer offers them. An entry says how its column is stored, which form field edits
it, how raw input is parsed and how a stored value reads as text, as HTML on a record page
and as a list cell; which filter operators it offers, in which words, with which value
input and which SQL; which type options the designer shows and how they are checked; and
what the type can do (capabilities such as ``sortable``, ``reference``, ``numeric``).
Code elsewhere asks the entry and never tests a type's name.

The entries live in one module per family (``text``, ``numbers``, ``dates``,
``choices``, ``references``, ``rating``...): every module of this package that defines
``ENTRIES`` is read, so **adding a type means adding a module (or an entry to one)**,
its tests and at most a template macro. ``docs/field-types.md`` tells how, what each
capability means and which hooks exist.

Parsing is shared by forms, imports and the API, so its messages are written for people
(translated into the request's language): they are shown as they are. ``parse`` reads the
machine forms (ISO dates, naive UTC moments, numbers with a point: stored defaults,
history, links); ``parse_input`` reads what a person typed, in their language and time
zone (``l10n``), and accepts the machine forms too. Values are written in the request's
language and time zone; ``display_key()`` is what caches of drawn values are keyed by.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from flask_babel import gettext
from sqlalchemy.sql.elements import ColumnElement

from crm.metadata.spec import FieldSpec
from crm.metadata.types import conversions as _conversions
from crm.metadata.types.base import (
    BIGINT_MAX,
    BIGINT_MIN,
    LIST_OPS,
    NO_VALUE_OPS,
    NUMERIC_PRECISION,
    OP_WORDS,
    SEARCH_OPS,
    FieldType,
    Option,
    blank,
    input_text,
)
from crm.metadata.types.filters import (
    DATE_OPS,
    NUMBER_OPS,
    RELATIVE_LABELS,
    RELATIVE_RANGES,
    TEXT_OPS,
    canon_value,
    relative_range,
)
from crm.metadata.types.forms import (
    MultiPicklistField,
    ParsedField,
    PicklistField,
    ReadOnlyField,
    Required,
)
from crm.metadata.types.l10n import Formats, current, formats
from crm.metadata.types.references import ON_DELETE

__all__ = [
    "BIGINT_MAX", "BIGINT_MIN", "DATE_OPS", "LIST_OPS", "NO_VALUE_OPS", "NUMBER_OPS",
    "NUMERIC_PRECISION", "ON_DELETE", "OP_WORDS", "REGISTRY", "RELATIVE_LABELS",
    "RELATIVE_RANGES", "SAFE_CONVERSIONS", "SEARCH_OPS", "TEXT_OPS", "FieldType", "Formats",
    "MultiPicklistField", "Option", "ParsedField", "PicklistField", "ReadOnlyField",
    "Required", "build_filter", "check_options", "convert_value", "current", "display_key",
    "filter_value", "formats", "get", "input_text", "parse_input", "relative_range",
    "value_words",
]  # fmt: skip


def _discover() -> dict[str, FieldType]:
    """Every ``ENTRIES`` of this package's modules, in ``position`` order."""
    found: list[FieldType] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "ENTRIES", ()))
    keys = [t.key for t in found]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise RuntimeError(f"Field types registered twice: {', '.join(duplicates)}")
    return {t.key: t for t in sorted(found, key=lambda t: (t.position, t.key))}


REGISTRY: dict[str, FieldType] = _discover()
SAFE_CONVERSIONS: dict[tuple[str, str], str] = _conversions.safe_conversions(REGISTRY)


def get(type_key: str) -> FieldType:
    """The type registered under ``type_key``; ValueError for an unknown key."""
    try:
        return REGISTRY[type_key]
    except (KeyError, TypeError):
        raise ValueError(gettext("Unknown field type “%(type)s”.", type=type_key)) from None


def of(spec: FieldSpec) -> FieldType:
    """The entry of a field's type; ValueError for an unknown type."""
    return get(spec.type)


def parse_input(spec: FieldSpec, value: Any) -> Any:
    """What a person typed for ``spec`` (a form, inline or bulk edit), read in the
    request's language and time zone; ValueError with a message for people."""
    return get(spec.type).parse_input(spec, value)


def display_key() -> tuple[str, str]:
    """The request's language and time zone: the key of anything drawn once and kept
    (list row renderers), besides the metadata version."""
    return current().key


def value_words(spec: FieldSpec, text: str) -> str:
    """A filter value as a saved view or a link keeps it (1234.50, 2026-12-31) as the
    request's language writes it (€1,234.50, Dec 31, 2026)."""
    return get(spec.type).value_words(spec, text)


def check_options(type_key: str, options: dict) -> dict[str, list[str]]:
    """Problems with the type options of a field, as ``{option: [messages]}``; ``{}`` when
    they are fine. Options a type does not use are ignored. ValueError for an unknown type."""
    ftype = get(type_key)
    problems: dict[str, list[str]] = {}
    if "indexed" in options and not isinstance(options["indexed"], bool):
        problems["indexed"] = [gettext("Choose yes or no.")]
    for name, messages in ftype.check_options(options).items():
        problems.setdefault(name, []).extend(messages)
    return problems


def operators_of(spec: FieldSpec) -> tuple[str, ...]:
    """The filter operators a field offers: its type's, unless the spec narrows them
    (option ``operators``, used by the spine's owner column)."""
    return tuple(spec.option("operators") or get(spec.type).operators)


def build_filter(
    spec: FieldSpec,
    column: ColumnElement,
    op: str,
    value: Any,
    *,
    dialect_name: str,
    user_id: int | None = None,
) -> ColumnElement:
    """A SQL condition "``column`` ``op`` ``value``" for a field, with bound parameters only.

    ``value`` is raw input (a string, or a list of strings for "in", "between" ...) and is
    parsed by the field's type. "not_equals", "ne" and "not_in" also match empty values
    (what people mean by "is not"). Raises ValueError with a message for people when the
    operator does not apply to the type or the value does not parse.
    """
    ftype = get(spec.type)
    if op not in ftype.operators:
        raise ValueError(
            gettext("“%(op)s” is not a filter for %(type)s fields.", op=op, type=ftype.label)
        )
    return ftype.filter_sql(ftype, spec, column, op, value, dialect_name, user_id)


def filter_value(spec: FieldSpec, op: str, text: str, *, lenient: bool = False) -> tuple[str, Any]:
    """One non-blank filter value as a saved view stores it (canonical text) and as parsed
    (to compare the ends of "between"); ValueError with a message for people.
    ``lenient``: a stored view keeps a choice archived since."""
    ftype = get(spec.type)
    read = ftype.filter_value or canon_value
    return read(ftype, spec, op, text, lenient)


def convert_value(from_spec: FieldSpec, to_spec: FieldSpec, value: Any) -> Any:
    """The value a stored ``value`` of ``from_spec`` becomes as ``to_spec`` (what the column
    holds after the type change). Raises ValueError when it would not convert exactly, and
    for a change that is not in SAFE_CONVERSIONS. The preflight counts those values."""
    get(from_spec.type), get(to_spec.type)
    return _conversions.convert_value(REGISTRY, SAFE_CONVERSIONS, from_spec, to_spec, value)


_ = blank  # re-exported helper for callers that read raw input


def lookup_target(spec: FieldSpec) -> str | None:
    """The key of the entity whose records a field's values are (a record reference), or
    None for any other field."""
    return spec.option("target") if get(spec.type).reference == "record" else None
