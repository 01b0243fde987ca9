"""Reference types: values are ids of records (lookup) or of users, shown by the names
resolved once per batch (``crm.records.present.Display``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import widgets

from crm.metadata.keys import KEY_RE
from crm.metadata.spec import FieldSpec
from crm.metadata.types.base import FieldType, Option, escaped, fixed
from crm.metadata.types.filters import equality_filter
from crm.metadata.types.forms import ParsedField, form_field
from crm.metadata.types.numbers import parse_integer

ON_DELETE = ("clear", "restrict", "cascade")
CANNOT_SEE = _l("(a record you cannot see)")
FORMER_USER = _l("(former user)")


def _parse_id(message: Callable[[], str]) -> Callable[[FieldSpec, Any], int | None]:
    def parse(spec: FieldSpec, value: Any) -> int | None:
        try:
            n = parse_integer(spec, value)
        except ValueError:
            n = 0
        if n is not None and n <= 0:
            raise ValueError(message())
        return n

    return parse


def _lookup_html(spec: FieldSpec, value: Any, text: str, names, target_url) -> str:
    """A link to the record when the user may open it (its name was resolved)."""
    if target_url is not None and value in names:
        return f'<a href="{target_url}{int(value)}">{escaped(text)}</a>'
    return escaped(text)


def _lookup_cell(spec: FieldSpec, has_target: bool):
    """A link to the record (even one the user cannot see: it says so) when the target
    entity exists, else the name as text."""

    def cell(v: Any, names: Any, url: str) -> str:
        if v is None or v == "" or v == []:
            return "<td></td>"
        name = escaped(names.get(v, CANNOT_SEE))
        if has_target and v:  # an id of 0 is no record: no link
            return "".join(('<td><a href="', url, escaped(v), '">', name, "</a></td>"))
        return "".join(("<td>", name, "</td>"))

    return cell


def _target_problems(value: Any) -> list[str]:
    if not isinstance(value, str) or not KEY_RE.fullmatch(value):
        return [_("Choose the entity this field looks up.")]
    return []


def _on_delete_problems(value: Any) -> list[str]:
    if (value if value is not None else "clear") not in ON_DELETE:
        return [_("Choose one of: %(names)s.", names=", ".join(ON_DELETE))]
    return []


_REFERENCE = {
    "sa_type": fixed(sa.BigInteger), "storage": "integer", "filter_sql": equality_filter,
    "index_by_default": True, "sort_words": (_l("smallest first"), _l("largest first")),
    "aggregates": ("count",),
}  # fmt: skip

ENTRIES = (
    FieldType(
        key="lookup", label=_l("Lookup"), description=_l("A link to a record of another entity."),
        position=150, **_REFERENCE,
        form_field=form_field(ParsedField, widgets.TextInput(), **{
            "data-widget": "lookup", "data-target": lambda s: s.option("target", "")}),
        widget="lookup", parse=_parse_id(lambda: _("Choose a record.")), reference="record",
        missing_name=CANNOT_SEE, operators=("eq", "in", "empty", "not_empty"),
        html=_lookup_html, cell=_lookup_cell,
        options=(
            Option("target", _l("Looks up"), "entity", _target_problems, None,
                   lambda v: v or ""),
            Option("on_delete", _l("When the record is deleted"), "on_delete",
                   _on_delete_problems, "clear", lambda v: v or "clear"),
        ),
    ),
    FieldType(
        key="user", label=_l("User"), description=_l("A person who uses this CRM."),
        position=160,
        **_REFERENCE,
        form_field=form_field(ParsedField, widgets.TextInput(), **{"data-widget": "user"}),
        widget="user", parse=_parse_id(lambda: _("Choose a user.")), reference="user",
        missing_name=FORMER_USER,
        operators=("eq", "in", "is_me", "empty", "not_empty"),
    ),
)  # fmt: skip
