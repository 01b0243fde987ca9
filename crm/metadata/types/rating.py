"""Rating: a whole number from 1 to 5, shown as stars (★★★☆☆) with the number for screen
readers; filtered with the number operators, sortable, stored as a small integer.

The demonstration that a type is one entry: nothing outside this module knows it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from wtforms import widgets

from crm.metadata.spec import FieldSpec
from crm.metadata.types.base import FieldType, fixed
from crm.metadata.types.filters import NUMBER_OPS, number_filter
from crm.metadata.types.forms import ParsedField, form_field
from crm.metadata.types.numbers import parse_integer

LOW, HIGH = 1, 5


def _parse_rating(spec: FieldSpec, value: Any) -> int | None:
    message = f"Enter a whole number from {LOW} to {HIGH}."
    try:
        n = parse_integer(spec, value)
    except ValueError:
        raise ValueError(message) from None
    if n is not None and not LOW <= n <= HIGH:
        raise ValueError(message)
    return n


def _format_rating(spec: FieldSpec, value: Any) -> str:
    return "" if value is None else f"{int(value)} of {HIGH}"


def _stars(value: Any) -> str:
    """The stars of a stored rating, with its number for screen readers (no user text:
    only digits reach the markup)."""
    n = max(0, min(HIGH, int(value)))
    return (
        f'<span class="rating" aria-hidden="true">{"★" * n}{"☆" * (HIGH - n)}</span>'
        f'<span class="sr-only">{n} of {HIGH}</span>'
    )


def _rating_html(spec: FieldSpec, value: Any, text: str, names, target_url) -> str:
    return _stars(value)


def _rating_cell(spec: FieldSpec, has_target: bool):
    drawn = {n: f"<td>{_stars(n)}</td>" for n in range(LOW, HIGH + 1)}

    def cell(v: Any, names: Any, url: str) -> str:
        if v is None:
            return "<td></td>"
        return drawn.get(v) or f"<td>{_stars(v)}</td>"

    return cell


ENTRIES = (
    FieldType(
        key="rating", label="Rating", description="A score from 1 to 5, shown as stars.",
        position=65, sa_type=fixed(sa.SmallInteger), storage="integer",
        form_field=form_field(ParsedField, widgets.NumberInput(step="1", min=LOW, max=HIGH)),
        widget="number", parse=_parse_rating, format=_format_rating,
        operators=NUMBER_OPS, filter_sql=number_filter, filter_input="number", step="1",
        numeric=True, sort_words=("lowest first", "highest first"),
        html=_rating_html, cell=_rating_cell, aggregates=("count", "avg", "min", "max"),
    ),
)  # fmt: skip
