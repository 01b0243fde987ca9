"""Number types: whole number, decimal number, currency, percent."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from wtforms import widgets

from crm.metadata.spec import FieldSpec
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
    numeric_type,
)
from crm.metadata.types.filters import NUMBER_OPS, number_filter
from crm.metadata.types.forms import ParsedField, form_field, number_widget

INT_RE = re.compile(r"[+-]?[0-9]+")
DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")


def parse_integer(spec: FieldSpec, value: Any) -> int | None:
    """A whole number in the BIGINT range from text or a typed number."""
    if blank(value):
        return None
    if isinstance(value, str):
        s = value.strip().translate(SPACES)
        if not INT_RE.fullmatch(s):
            raise ValueError("Enter a whole number.")
        if len(s.lstrip("+-").lstrip("0")) > 19:
            raise ValueError(f"Enter a number between {BIGINT_MIN:,} and {BIGINT_MAX:,}.")
        n = int(s)
    elif isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, Decimal | float):
        try:
            d = decimal_value(value)
        except ValueError:
            raise ValueError("Enter a whole number.") from None
        if d != d.to_integral_value():
            raise ValueError("Enter a whole number.")
        if abs(d) > BIGINT_MAX + 1:
            raise ValueError(f"Enter a number between {BIGINT_MIN:,} and {BIGINT_MAX:,}.")
        n = int(d)
    else:
        raise ValueError("Enter a whole number.")
    if not BIGINT_MIN <= n <= BIGINT_MAX:
        raise ValueError(f"Enter a number between {BIGINT_MIN:,} and {BIGINT_MAX:,}.")
    return n


def fit_decimal(spec: FieldSpec, d: Decimal) -> Decimal:
    """``d`` quantized to the field's decimal places, or ValueError when it does not fit."""
    places = int(spec.option("decimal_places", 2))
    whole = NUMERIC_PRECISION - places
    if not d:
        d = Decimal(0)  # also drops the sign of -0 and the exponent of 0E+400
    if d.adjusted() >= whole:
        raise ValueError(f"Enter a number with at most {whole} digits before the decimal point.")
    _, digits, exponent = d.as_tuple()
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    if -int(exponent) - trailing_zeros > places:  # no normalize(): it rounds past 28 digits
        if places == 0:
            raise ValueError("Enter a whole number.")
        raise ValueError(f"Use at most {places} decimal place{'s' if places != 1 else ''}.")
    return d.quantize(Decimal(1).scaleb(-places))


def _decimal_parser(affix: Any = None, *, suffix_only: bool = False):
    """A decimal parser; ``affix(spec)`` is text people may write around the number
    (a currency code before or after it; "%" only after it, ``suffix_only``)."""

    def parse(spec: FieldSpec, value: Any) -> Decimal | None:
        if blank(value):
            return None
        if isinstance(value, bool):
            raise ValueError("Enter a number, such as 1234.50.")
        if isinstance(value, str):
            s = value.strip().translate(SPACES)
            code = affix(spec) if affix else ""
            if code and not suffix_only:
                s = s.removeprefix(code)
            s = s.removesuffix(code) if code else s
            if len(s) > 60 or not DECIMAL_RE.fullmatch(s):
                raise ValueError("Enter a number, such as 1234.50.")
            value = Decimal(s)
        return fit_decimal(spec, decimal_value(value))

    return parse


def _format_integer(spec: FieldSpec, value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def _format_decimal(spec: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    return f"{decimal_value(value):,.{int(spec.option('decimal_places', 2))}f}"


def _format_currency(spec: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    return f"{_format_decimal(spec, value)} {spec.option('currency', '')}".rstrip()


def _format_percent(spec: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    text = f"{decimal_value(value):,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} %"


def _currency_problems(value: Any) -> list[str]:
    if not isinstance(value, str) or not _CURRENCY_RE.fullmatch(value):
        return ["Enter a three-letter currency code in capitals, such as EUR."]
    return []


def _currency_code(spec: FieldSpec) -> str:
    return str(spec.option("currency", ""))


_PLACES = Option("decimal_places", "Decimal places", "number", int_option(0, 8), 2)
_NUMBER = {
    "operators": NUMBER_OPS, "filter_sql": number_filter, "numeric": True,
    "filter_input": "number", "sort_words": ("smallest first", "largest first"),
    "aggregates": ("count", "sum", "avg", "min", "max"),
}  # fmt: skip
_DECIMAL = {
    **_NUMBER, "sa_type": numeric_type, "form_field": form_field(ParsedField, number_widget),
    "widget": "number", "storage": "numeric",
}  # fmt: skip

ENTRIES = (
    FieldType(
        key="integer", label="Whole number", description="A whole number, such as a quantity.",
        position=30, **_NUMBER, sa_type=fixed(sa.BigInteger),
        form_field=form_field(ParsedField, widgets.NumberInput(step="1")),
        widget="number", parse=parse_integer, format=_format_integer, storage="integer",
        step="1",
    ),
    FieldType(
        key="decimal", label="Decimal number",
        description="A number with a fixed number of decimal places.",
        position=40, **_DECIMAL, parse=_decimal_parser(), format=_format_decimal,
        options=(_PLACES,),
    ),
    FieldType(
        key="currency", label="Currency", description="An amount of money in one currency.",
        position=50, **_DECIMAL, parse=_decimal_parser(_currency_code),
        format=_format_currency, unit=_currency_code,
        options=(
            _PLACES,
            Option("currency", "Currency (ISO code)", "text", _currency_problems, "EUR",
                   lambda v: v.strip().upper() if v else None),
        ),
    ),
    FieldType(
        key="percent", label="Percent", description="A percentage: 12.5 means 12.5 %.",
        position=60, **_DECIMAL, parse=_decimal_parser(lambda spec: "%", suffix_only=True),
        format=_format_percent, unit=lambda spec: "%", options=(_PLACES,),
    ),
)  # fmt: skip
