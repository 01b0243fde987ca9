"""Rating: a whole number from 1 to 5, shown as stars (★★★☆☆) with the number for screen
readers; filtered with the number operators, sortable, stored as a small integer.

The demonstration that a type is one entry: nothing outside this module knows it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import widgets

from crm.metadata.spec import FieldSpec
from crm.metadata.types import importing
from crm.metadata.types.base import FieldType, escaped, fixed
from crm.metadata.types.filters import NUMBER_OPS, number_filter
from crm.metadata.types.forms import ParsedField, form_field
from crm.metadata.types.numbers import parse_integer

LOW, HIGH = 1, 5


def _parse_rating(spec: FieldSpec, value: Any) -> int | None:
    message = _("Enter a whole number from %(low)s to %(high)s.", low=LOW, high=HIGH)
    try:
        n = parse_integer(spec, value)
    except ValueError:
        raise ValueError(message) from None
    if n is not None and not LOW <= n <= HIGH:
        raise ValueError(message)
    return n


def _words(n: int) -> str:
    """A rating in words (3 of 5), in the request's language."""
    return _("%(value)d of %(max)d", value=n, max=HIGH)


def _show_rating(spec: FieldSpec, fm: Any):
    return lambda v: _words(int(v))


def _stars(value: Any) -> str:
    """The stars of a stored rating, with its number in words for screen readers (no user
    text: digits and the translated words, escaped)."""
    n = max(0, min(HIGH, int(value)))
    return (
        f'<span class="rating" aria-hidden="true">{"★" * n}{"☆" * (HIGH - n)}</span>'
        f'<span class="sr-only">{escaped(_words(n))}</span>'
    )


def _rating_html(spec: FieldSpec, value: Any, text: str, names, target_url) -> str:
    return _stars(value)


def _rating_cell(spec: FieldSpec, has_target: bool):
    """Each of the five ratings drawn once, in the request's language."""
    drawn = {n: f"<td>{_stars(n)}</td>" for n in range(LOW, HIGH + 1)}

    def cell(v: Any, names: Any, url: str) -> str:
        if v is None:
            return "<td></td>"
        return drawn.get(v) or f"<td>{_stars(v)}</td>"

    return cell


def _sheet_rating(spec: FieldSpec, value: Any, fm: Any) -> tuple[Any, str | None]:
    return int(value), "0"


ENTRIES = (
    FieldType(
        key="rating", label=_l("Rating"), description=_l("A score from 1 to 5, shown as stars."),
        position=65, sa_type=fixed(sa.SmallInteger), storage="integer",
        form_field=form_field(ParsedField, widgets.NumberInput(step="1", min=LOW, max=HIGH)),
        widget="number", parse=_parse_rating, show=_show_rating, sheet=_sheet_rating,
        csv=lambda spec, value, fm: str(int(value)),
        operators=NUMBER_OPS, filter_sql=number_filter, filter_input="number", step="1",
        numeric=True, sort_words=(_l("lowest first"), _l("highest first")),
        html=_rating_html, cell=_rating_cell, aggregates=("count", "avg", "min", "max"),
        parse_import=importing.number(_parse_rating),
    ),
)  # fmt: skip
