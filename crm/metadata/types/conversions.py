"""Type changes: which changes keep every value (``SAFE_CONVERSIONS``) and what a stored
value becomes (``convert_value``, which the preflight uses to count what would not
convert)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from crm.metadata.spec import FieldSpec
from crm.metadata.types import l10n
from crm.metadata.types.base import FieldType, decimal_value, not_a_number, too_long
from crm.metadata.types.numbers import DECIMAL_RE, INT_RE, fit_decimal, parse_integer


def safe_conversions(registry: Mapping[str, FieldType]) -> dict[tuple[str, str], str]:
    """(from, to) -> "lossless" | "checked". Only changes whose SQL cast (PostgreSQL
    ``USING col::type``; SQLite's batch copy with CAST) keeps every value that
    ``convert_value`` accepts. Not here on purpose: dates <-> text or datetimes (SQLite's
    CAST turns "2025-03-01" into 2025), decimals -> text (PostgreSQL writes "12.50", SQLite
    "12.5"), multi-select picklists, references (ids of other rows)."""
    # Managed types (pipelines, stages) change only through their feature: never offered.
    offered = {k: t for k, t in registry.items() if not t.managed}
    strings = [k for k, t in offered.items() if t.storage in ("string", "text")]
    numbers = [k for k, t in offered.items() if t.storage == "numeric"]
    checked_from_text = sorted(  # the designer lists a choice type last
        (k for k in strings if k not in ("text", "long_text") and not registry[k].assigned),
        key=lambda k: registry[k].has_choices,
    )
    return {
        **{(s, "long_text"): "lossless" for s in strings if s != "long_text"},
        **{(s, "text"): "checked" for s in strings if s != "text"},
        **{("text", t): "checked" for t in (*checked_from_text, "integer")},
        **{("text", t): "checked" for t in numbers},
        ("integer", "text"): "checked",
        ("integer", "long_text"): "lossless",
        **{("integer", t): "checked" for t in numbers},
        **{(n, "integer"): "checked" for n in numbers},
        **{(a, b): "checked" for a in numbers for b in numbers if a != b},
    }


def convert_value(
    registry: Mapping[str, FieldType],
    conversions: Mapping[tuple[str, str], str],
    from_spec: FieldSpec,
    to_spec: FieldSpec,
    value: Any,
) -> Any:
    """The value a stored ``value`` of ``from_spec`` becomes as ``to_spec``; ValueError
    when it would not convert exactly, and for a change not in ``conversions``."""
    if value is None:
        return None
    old, new = from_spec.type, to_spec.type
    if old != new and (old, new) not in conversions:
        raise ValueError(
            _(
                "A %(old)s field cannot be changed to %(new)s.",
                old=registry[old].label,
                new=registry[new].label,
            )
        )
    target = registry[new]
    if target.storage in ("string", "text"):  # the cast keeps the text; the new type checks it
        text = value if isinstance(value, str) else str(parse_integer(from_spec, value))
        parsed = target.parse(to_spec, text) if not target.assigned else text
        if target.has_choices and parsed != text:
            raise ValueError(_("“%(key)s” is not one of the choices.", key=text))
        limit = getattr(target.sa_type(to_spec), "length", None)
        if limit is not None and len(text) > limit:
            raise ValueError(too_long(limit))
        return text
    if isinstance(value, str):  # only what the database's cast reads the same way
        if target.storage == "integer" and not INT_RE.fullmatch(value.strip()):
            raise ValueError(_("Enter a whole number."))
        if not DECIMAL_RE.fullmatch(value.strip()):
            raise ValueError(not_a_number(l10n.DEFAULT))
        value = Decimal(value.strip())
    if target.storage == "integer":
        return parse_integer(to_spec, value)
    if target.storage == "numeric":
        return fit_decimal(to_spec, decimal_value(value))
    return target.parse(to_spec, value)
