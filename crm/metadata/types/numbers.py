"""Number types: whole number, decimal number, currency, percent.

``parse`` reads the machine forms (``1234.50``, a currency code or "%" around it, typed
numbers); ``read`` (``FieldType.parse_input``) reads what a person types in their
language too (``1.234,50 €`` in Spanish, see ``l10n``). Values are written by Babel's
rules for the request's language: 1,234.50 / 1.234,50; €1,234.50 / 1.234,50 €; 12.5% /
12,5 %.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import widgets

from crm.metadata.spec import FieldSpec
from crm.metadata.types import importing, l10n
from crm.metadata.types.base import (
    BIGINT_MAX,
    BIGINT_MIN,
    NUMERIC_PRECISION,
    SPACES,
    FieldType,
    Option,
    blank,
    decimal_value,
    fixed,
    int_option,
    not_a_number,
    numeric_type,
)
from crm.metadata.types.filters import NUMBER_OPS, number_filter
from crm.metadata.types.forms import ParsedField, form_field
from crm.metadata.types.l10n import Formats

INT_RE = re.compile(r"[+-]?[0-9]+")
DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")


def _whole() -> str:
    return _("Enter a whole number.")


def _out_of_range(fm: Formats | None = None) -> str:
    fm = fm or l10n.current()
    return _(
        "Enter a number between %(low)s and %(high)s.",
        low=fm.number(BIGINT_MIN),
        high=fm.number(BIGINT_MAX),
    )


def parse_integer(spec: FieldSpec, value: Any) -> int | None:
    """A whole number in the BIGINT range from text or a typed number."""
    if blank(value):
        return None
    if isinstance(value, str):
        s = value.strip().translate(SPACES)
        if not INT_RE.fullmatch(s):
            raise ValueError(_whole())
        if len(s.lstrip("+-").lstrip("0")) > 19:
            raise ValueError(_out_of_range())
        n = int(s)
    elif isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, Decimal | float):
        try:
            d = decimal_value(value)
        except ValueError:
            raise ValueError(_whole()) from None
        if d != d.to_integral_value():
            raise ValueError(_whole())
        if abs(d) > BIGINT_MAX + 1:
            raise ValueError(_out_of_range())
        n = int(d)
    else:
        raise ValueError(_whole())
    if not BIGINT_MIN <= n <= BIGINT_MAX:
        raise ValueError(_out_of_range())
    return n


def read_integer(spec: FieldSpec, value: Any, fm: Formats) -> int | None:
    """A whole number as a person types it in their language (1,234 / 1.234), or as
    ``parse_integer`` reads it."""
    if not isinstance(value, str) or blank(value):
        return parse_integer(spec, value)
    d = fm.read_decimal(value, 0)
    if d is None or d != d.to_integral_value():
        raise ValueError(_whole())
    if not BIGINT_MIN <= d <= BIGINT_MAX:
        raise ValueError(_out_of_range(fm))
    return int(d)


def _places(spec: FieldSpec) -> int:
    return int(spec.option("decimal_places", 2))


def fit_decimal(spec: FieldSpec, d: Decimal) -> Decimal:
    """``d`` quantized to the field's decimal places, or ValueError when it does not fit."""
    places = _places(spec)
    whole = NUMERIC_PRECISION - places
    if not d:
        d = Decimal(0)  # also drops the sign of -0 and the exponent of 0E+400
    if d.adjusted() >= whole:
        raise ValueError(
            ngettext(
                "Enter a number with at most %(num)d digit before the decimal point.",
                "Enter a number with at most %(num)d digits before the decimal point.",
                whole,
            )
        )
    _sign, digits, exponent = d.as_tuple()
    trailing_zeros = (  # counted only when the places written are more than allowed
        len(digits) - len("".join(map(str, digits)).rstrip("0")) if -int(exponent) > places else 0
    )
    if -int(exponent) - trailing_zeros > places:  # no normalize(): it rounds past 28 digits
        if places == 0:
            raise ValueError(_whole())
        raise ValueError(
            ngettext(
                "Use at most %(num)d decimal place.", "Use at most %(num)d decimal places.", places
            )
        )
    return d.quantize(Decimal(1).scaleb(-places))


def _decimal_parser(affix: Any = None, *, suffix_only: bool = False):
    """A decimal parser of the machine forms; ``affix(spec)`` is text people may write
    around the number (a currency code before or after it; "%" only after it,
    ``suffix_only``)."""

    def parse(spec: FieldSpec, value: Any) -> Decimal | None:
        if blank(value):
            return None
        if isinstance(value, bool):
            raise ValueError(not_a_number(l10n.DEFAULT))
        if isinstance(value, str):
            s = value.strip().translate(SPACES)
            code = affix(spec) if affix else ""
            if code and not suffix_only:
                s = s.removeprefix(code)
            s = s.removesuffix(code) if code else s
            if len(s) > 60 or not DECIMAL_RE.fullmatch(s):
                raise ValueError(not_a_number(l10n.DEFAULT))
            value = Decimal(s)
        return fit_decimal(spec, decimal_value(value))

    return parse


def _decimal_reader(affixes: Any = None):
    """Reads decimals as people type them in their language (``l10n``); ``affixes(spec,
    formats)`` are what may stand around the number (a currency's code and symbols, "%")."""

    def read(spec: FieldSpec, value: Any, fm: Formats) -> Decimal | None:
        if not isinstance(value, str) or blank(value):
            return _PARSERS[spec.type](spec, value)
        found = fm.read_decimal(value, _places(spec), affixes(spec, fm) if affixes else ())
        if found is None:
            raise ValueError(not_a_number(fm))
        return fit_decimal(spec, found)

    return read


# --- writing -------------------------------------------------------------------------------


def _show_integer(spec: FieldSpec, fm: Formats):
    number = fm.number
    return lambda v: number(int(v))


def _show_decimal(spec: FieldSpec, fm: Formats):
    return fm.number_writer(_places(spec))


def _show_currency(spec: FieldSpec, fm: Formats):
    return fm.currency_writer(_currency_code(spec), _places(spec))


def _show_percent(spec: FieldSpec, fm: Formats):
    places = _places(spec)
    return lambda v: fm.percent(v, places)


def _edit_number(spec: FieldSpec, value: Any, fm: Formats) -> str:
    """A form input's text: the language's decimal sign, no grouping (1234,50)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return fm.plain_number(decimal_value(value), _places(spec))


def _csv_number(spec: FieldSpec, value: Any, fm: Formats) -> str:
    """The machine form: 1234.50, -3, never grouped, never a symbol."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{decimal_value(value):f}"


def _sheet_integer(spec: FieldSpec, value: Any, fm: Formats) -> tuple[Any, str | None]:
    return int(value), "#,##0"


def _decimal_pattern(places: int) -> str:
    return "#,##0" + ("." + "0" * places if places else "")


def _sheet_decimal(spec: FieldSpec, value: Any, fm: Formats) -> tuple[Any, str | None]:
    return decimal_value(value), _decimal_pattern(_places(spec))


def _sheet_currency(spec: FieldSpec, value: Any, fm: Formats) -> tuple[Any, str | None]:
    """A number with the currency's symbol where the user's language puts it, in the
    cell's number format (the value stays a number)."""
    pre, suf, _npre, _nsuf = fm.currency_affixes(_currency_code(spec))
    quoted = [f'"{a.strip()}"' if a.strip() else "" for a in (pre, suf)]
    spaced = (quoted[0] + (" " if pre.endswith((" ", "\u00a0")) else ""), quoted[1])
    if suf.startswith((" ", "\u00a0")) and quoted[1]:
        spaced = (spaced[0], " " + quoted[1])
    return decimal_value(value), spaced[0] + _decimal_pattern(_places(spec)) + spaced[1]


def _sheet_percent(spec: FieldSpec, value: Any, fm: Formats) -> tuple[Any, str | None]:
    """12.5 % is the number 0.125 shown as a percentage."""
    places = _places(spec)
    return decimal_value(value) / 100, "0" + ("." + "#" * places if places else "") + "%"


def _currency_problems(value: Any) -> list[str]:
    if not isinstance(value, str) or not _CURRENCY_RE.fullmatch(value):
        return [_("Enter a three-letter currency code in capitals, such as EUR.")]
    return []


def _currency_code(spec: FieldSpec) -> str:
    return str(spec.option("currency", ""))


def _currency_affixes(spec: FieldSpec, fm: Formats) -> tuple[str, ...]:
    return fm.currency_symbols(_currency_code(spec))


_PLACES = Option("decimal_places", _l("Decimal places"), "number", int_option(0, 8), 2)
_NUMBER = {
    "operators": NUMBER_OPS, "filter_sql": number_filter, "numeric": True,
    "filter_input": "number", "sort_words": (_l("smallest first"), _l("largest first")),
    "aggregates": ("count", "sum", "avg", "min", "max"), "edit": _edit_number,
    "csv": _csv_number,
}  # fmt: skip
# Numbers are typed into text inputs: a number input drops what it cannot read (a
# Spanish "1.234,50" in a browser set to English) and sends nothing, silently.
_DECIMAL_INPUT = widgets.TextInput()
_DECIMAL = {
    **_NUMBER, "sa_type": numeric_type,
    "form_field": form_field(ParsedField, _DECIMAL_INPUT, inputmode="decimal", autocomplete="off"),
    "widget": "number", "storage": "numeric",
}  # fmt: skip
_PARSERS = {
    "decimal": _decimal_parser(),
    "currency": _decimal_parser(_currency_code),
    "percent": _decimal_parser(lambda spec: "%", suffix_only=True),
}

ENTRIES = (
    FieldType(
        key="integer", label=_l("Whole number"),
        description=_l("A whole number, such as a quantity."),
        position=30, **_NUMBER, sa_type=fixed(sa.BigInteger),
        form_field=form_field(ParsedField, widgets.TextInput(), inputmode="numeric",
                              autocomplete="off"),
        widget="number", parse=parse_integer, read=read_integer, show=_show_integer,
        sheet=_sheet_integer, storage="integer", step="1",
        parse_import=importing.number(parse_integer),
    ),
    FieldType(
        key="decimal", label=_l("Decimal number"),
        description=_l("A number with a fixed number of decimal places."),
        position=40, **_DECIMAL, parse=_PARSERS["decimal"], read=_decimal_reader(),
        parse_import=importing.number(_PARSERS["decimal"]),
        show=_show_decimal, sheet=_sheet_decimal, options=(_PLACES,),
    ),
    FieldType(
        key="currency", label=_l("Currency"), description=_l("An amount of money in one currency."),
        position=50, **_DECIMAL, parse=_PARSERS["currency"],
        parse_import=importing.number(_PARSERS["currency"], currency=True),
        read=_decimal_reader(_currency_affixes), show=_show_currency, sheet=_sheet_currency,
        unit=_currency_code,
        options=(
            _PLACES,
            Option("currency", _l("Currency (ISO code)"), "text", _currency_problems, "EUR",
                   lambda v: v.strip().upper() if v else None),
        ),
    ),
    FieldType(
        key="percent", label=_l("Percent"), description=_l("A percentage: 12.5 means 12.5 %."),
        position=60, **_DECIMAL, parse=_PARSERS["percent"],
        parse_import=importing.number(_PARSERS["percent"], percent=True),
        read=_decimal_reader(lambda spec, fm: ("%",)), show=_show_percent,
        sheet=_sheet_percent, unit=lambda spec: "%", options=(_PLACES,),
    ),
)  # fmt: skip
