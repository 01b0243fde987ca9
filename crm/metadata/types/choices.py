"""Choice types: yes/no, a picklist, a multi-select picklist."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from crm.metadata.spec import FieldSpec
from crm.metadata.types import importing
from crm.metadata.types.base import FieldType, blank, escaped, fixed, json_type
from crm.metadata.types.filters import equality_filter, many, one
from crm.metadata.types.forms import (
    MultiPicklistField,
    PicklistField,
    boolean_field,
    choice_keys,
    choice_label,
    form_field,
)

_TRUE = frozenset({"true", "yes", "1", "on", "y"})
_FALSE = frozenset({"false", "no", "0", "off", "n"})


def _parse_boolean(spec: FieldSpec, value: Any) -> bool | None:
    if blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(_("Enter yes or no."))


def _show_boolean(spec: FieldSpec, fm: Any):
    yes, no = _("Yes"), _("No")  # once per list, in the request's language
    return lambda v: yes if v else no


def parse_picklist(spec: FieldSpec, value: Any) -> str | None:
    if blank(value):
        return None
    if not isinstance(value, str):
        raise ValueError(_("Choose from the list."))
    return choice_keys(spec, [value])[0]


def _parse_multi_picklist(spec: FieldSpec, value: Any) -> list[str] | None:
    if blank(value):
        return None
    return choice_keys(spec, value) or None


def format_picklist(spec: FieldSpec, value: Any) -> str:
    return "" if value is None else choice_label(spec, value)


def _format_multi_picklist(spec: FieldSpec, value: Any) -> str:
    return ", ".join(choice_label(spec, k) for k in value or ())


def known_key(spec: FieldSpec, value: Any) -> str:
    """A choice key for a filter: archived choices may be searched for too."""
    key = str(value).strip()
    if spec.choice(key) is None:
        raise ValueError(_("“%(key)s” is not one of the choices.", key=key))
    return key


def chip(choice: Any, label: str) -> str:
    """A picklist value on its colour, as escaped HTML."""
    color = (choice.color if choice is not None else "") or "gray"
    return f'<span class="chip c-{escaped(color)}">{escaped(label)}</span>'


def picklist_html(spec: FieldSpec, value: Any, text: str, names, target_url) -> str:
    return chip(spec.choice(value), text)


def _multi_html(spec: FieldSpec, value: Any, text: str, names, target_url) -> str:
    chips = []
    for key in value:
        choice = spec.choice(key)
        chips.append(chip(choice, choice.label if choice else key) + " ")
    return "".join(chips)


def picklist_cell(spec: FieldSpec, has_target: bool):
    """Each choice's chip is drawn once; a key no longer among the choices shows as
    stored, on a grey chip; an empty value is an empty cell."""
    chips = {
        # Markup.format escapes its arguments: the colour (a palette key) and the label.
        c.key: str(
            Markup('<td><span class="chip c-{}">{}</span></td>').format(
                c.color or "gray", choice_label(spec, c.key)
            )
        )
        for c in spec.choices
    }

    def cell(v: Any, names: Any, url: str) -> str:
        if not v:
            return "<td></td>"
        found = chips.get(v)
        if found is None:
            return "".join(('<td><span class="chip c-gray">', escaped(v), "</span></td>"))
        return found

    return cell


def choice_value(ftype, field: FieldSpec, op: str, text: str, lenient: bool):
    """A saved view keeps working when a choice is archived later (``lenient``)."""
    if lenient:
        if field.choice(text) is None:
            raise ValueError(_("“%(key)s” is not one of the choices.", key=text))
    else:
        ftype.parse(field, text)
    return text, text


def picklist_filter(ftype, spec: FieldSpec, col: Any, op: str, value: Any, *_args: Any):
    if op == "empty":
        return col.is_(None)
    if op == "not_empty":
        return col.is_not(None)
    keys = many(spec, value, known_key)
    return col.in_(keys) if op == "in" else sa.or_(col.not_in(keys), col.is_(None))


def _multi_filter(ftype, spec: FieldSpec, col: Any, op: str, value: Any, dialect: str, *_args: Any):
    if dialect == "postgresql":
        doc = sa.type_coerce(col, postgresql.JSONB(none_as_null=True))
        has_items = sa.and_(
            sa.func.jsonb_typeof(col) == "array", doc != sa.type_coerce([], doc.type)
        )

        def contains(key: str) -> ColumnElement:
            return doc.contains([key])  # `@>`, which a GIN index serves

    elif dialect == "sqlite":
        has_items = sa.and_(sa.func.json_type(col) == "array", sa.func.json_array_length(col) > 0)

        def contains(key: str) -> ColumnElement:
            items = sa.func.json_each(col).table_valued("value")
            return sa.exists(
                sa.select(sa.literal(1)).select_from(items).where(items.c.value == key)
            )

    else:
        raise ValueError(
            _("Multi-select filters are not supported on %(database)s.", database=dialect)
        )
    if op == "empty":
        return sa.or_(col.is_(None), sa.not_(has_items))
    if op == "not_empty":
        return sa.and_(col.is_not(None), has_items)
    if op == "contains":
        return contains(one(spec, value, known_key))
    return sa.or_(*(contains(k) for k in many(spec, value, known_key)))


_CHOICES = {
    "has_choices": True, "filter_value": choice_value, "storage": "string",
    "aggregates": ("count",),
}  # fmt: skip

ENTRIES = (
    FieldType(
        key="boolean", label=_l("Yes/No"), description=_l("A checkbox: yes or no."),
        position=90,
        sa_type=fixed(sa.Boolean), form_field=boolean_field, widget="checkbox",
        parse=_parse_boolean, show=_show_boolean, storage="boolean",
        operators=("is_true", "is_false", "empty"), filter_sql=equality_filter,
        can_be_unique=False, takes_default=False, aggregates=("count",),
        parse_import=importing.boolean,
    ),
    FieldType(
        key="picklist", label=_l("Picklist"),
        description=_l("One value chosen from a list you define."),
        position=100, **_CHOICES,
        sa_type=fixed(sa.String, 64), form_field=form_field(PicklistField),
        widget="select", parse=parse_picklist, format=format_picklist,
        operators=("in", "not_in", "empty", "not_empty"), filter_sql=picklist_filter,
        html=picklist_html, cell=picklist_cell, parse_import=importing.choices(multi=False),
    ),
    FieldType(
        key="multi_picklist", label=_l("Multi-select picklist"),
        description=_l("Several values chosen from a list."), position=110,
        **{**_CHOICES, "storage": "json"},
        sa_type=json_type, form_field=form_field(MultiPicklistField), widget="multiselect",
        parse=_parse_multi_picklist, format=_format_multi_picklist,
        operators=("contains", "contains_any", "empty", "not_empty"), filter_sql=_multi_filter,
        op_words={"contains": _l("includes")}, html=_multi_html,
        multi_valued=True, sortable=False, can_be_unique=False,
        parse_import=importing.choices(multi=True),
    ),
)  # fmt: skip
