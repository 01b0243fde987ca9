"""The list-view editor form. It only parses input; ``crm.metadata.list_views`` checks the
meaning (fields, operators, values) and reports every problem at once.

The editor works as a plain HTML form: the arrow, remove, "Add filter" and "Update" buttons
submit the form with their own name (``move``, ``remove_filter``, ``add_filter``,
``refresh``) and the view shows it again, changed and unsaved. JavaScript and htmx only
make the same steps happen in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, Field, Form, SelectField, StringField
from wtforms.fields import FieldList, FormField
from wtforms.validators import Optional

from crm.metadata import list_views as lv
from crm.metadata.filter_rows import FilterRowModel
from crm.metadata.spec import EntitySpec
from forms.base import BaseForm

_INDEX_RE = re.compile(r"^filters-([0-9]{1,4})-")
MAX_ROWS = 50
SORT_LEVELS = 2


class ValuesField(Field):
    """Every submitted value of one name, in order (hidden inputs, checkboxes)."""

    def process_formdata(self, valuelist):
        self.data = [v for v in valuelist if isinstance(v, str)]

    def process_data(self, value):
        self.data = list(value or [])


class SortForm(Form):
    field = SelectField(_l("Sort by"), choices=[], validate_choice=False, validators=[Optional()])
    dir = SelectField(
        _l("Direction"),
        choices=[("asc", _l("Ascending")), ("desc", _l("Descending"))],
        validate_choice=False,
        validators=[Optional()],
    )


class FilterForm(Form):
    field = StringField(_l("Field"))
    op = StringField(_l("Condition"))
    value = ValuesField(_l("Value"))
    value2 = StringField(_l("To"))


class ListViewForm(BaseForm):
    name = StringField(_l("Name"))
    show = ValuesField(_l("Columns"))
    order = ValuesField(_l("Shown columns"))
    sort = FieldList(FormField(SortForm), min_entries=SORT_LEVELS, max_entries=SORT_LEVELS)
    filters = FieldList(FormField(FilterForm), max_entries=MAX_ROWS)
    is_default = BooleanField(_l("Default view of this list"))
    # The editing buttons (see the module docstring); "save" is the default button.
    move = StringField()
    remove_filter = StringField()
    add_filter = StringField()
    refresh = StringField()

    @property
    def editing(self) -> bool:
        """True when an editing button (not Save) submitted the form."""
        return any(f.data for f in (self.move, self.remove_filter, self.add_filter, self.refresh))

    # -- columns ---------------------------------------------------------------------------
    def columns(self) -> list[str]:
        """The shown columns in order: the ordered list first, then columns just ticked."""
        shown = list(dict.fromkeys(self.show.data or []))
        ordered = [k for k in dict.fromkeys(self.order.data or []) if k in shown]
        columns = ordered + [k for k in shown if k not in ordered]
        move = self.move.data or ""
        action, _colon, key = move.partition(":")
        if key in columns:
            i = columns.index(key)
            if action == "up" and i > 0:
                columns[i - 1], columns[i] = columns[i], columns[i - 1]
            elif action == "down" and i < len(columns) - 1:
                columns[i + 1], columns[i] = columns[i], columns[i + 1]
            elif action == "remove":
                columns.remove(key)
        return columns

    def sort_levels(self) -> list[list[str]]:
        return [[e.form.field.data or "", e.form.dir.data or "asc"] for e in self.sort.entries]

    # -- filters ---------------------------------------------------------------------------
    def filter_rows(self, entity: EntitySpec) -> list[FilterRow]:
        """The filter rows as submitted, less a removed one, plus an added one."""
        rows = [
            row_from_form(entity, _entry_index(e), e.form)
            for e in self.filters.entries
            if str(_entry_index(e)) != (self.remove_filter.data or "")
        ]
        if self.add_filter.data and len(rows) < MAX_ROWS:
            rows.append(FilterRow(index=next_index(r.index for r in rows)))
        return rows

    def to_data(self, columns: list[str], rows: list[FilterRow]) -> dict:
        """The ``data`` dict the list-view service takes."""
        return {
            "name": self.name.data or "",
            "columns": columns,
            "sort": [level for level in self.sort_levels() if level[0]],
            "filters": [r.to_data() for r in rows if not r.blank],
            "is_default": bool(self.is_default.data),
        }


def form_data(view: lv.ListViewSpec) -> dict:
    """What an editor form starts with for an existing view."""
    sort = [{"field": k, "dir": d} for k, d in view.sort[:SORT_LEVELS]]
    return {
        "name": view.plain_name or view.name,
        "show": list(view.columns),
        "order": list(view.columns),
        "sort": sort + [{"field": "", "dir": "asc"}] * (SORT_LEVELS - len(sort)),
        "is_default": view.is_default,
    }


def _entry_index(entry) -> int:
    return int(entry.name.rsplit("-", 1)[-1])


def next_index(indices) -> int:
    return max(indices, default=-1) + 1


def indices_in(formdata) -> list[int]:
    """The filter-row indices named in submitted data."""
    found = {int(m.group(1)) for k in formdata if (m := _INDEX_RE.match(k))}
    return sorted(found)


# -- filter rows ------------------------------------------------------------------------------


@dataclass
class FilterRow(FilterRowModel):
    """One filter row of the editor: the shared filter-row model and its place (``index``)
    among the form's rows."""

    index: int = 0

    @property
    def blank(self) -> bool:
        return self.field is None and not self.op

    def to_data(self) -> dict:
        return self.to_raw()


def row_from_form(entity: EntitySpec, index: int, form: FilterForm) -> FilterRow:
    """A row from submitted input. A field that was just changed keeps the condition when
    the new field offers it, else takes the field's first one."""
    key = (form.field.data or "").strip()
    f = lv.field_for(entity, key)
    op = (form.op.data or "").strip()
    if f is not None and op not in lv.operators_for(f):
        op = lv.operators_for(f)[0]
    row = FilterRow(index=index, field=f, op=op if f else "")
    row.values = [v for v in form.value.data or [] if v.strip()]
    row.value2 = (form.value2.data or "").strip()
    if f is None and key:
        row.errors.append(_("There is no field “%(key)s” to filter by.", key=key))
    return row


def row_from_spec(entity: EntitySpec, index: int, spec: lv.FilterSpec) -> FilterRow:
    row = FilterRow(index=index, field=lv.field_for(entity, spec.field), op=spec.op)
    if spec.op == "between" and isinstance(spec.value, tuple):
        row.values, row.value2 = [spec.value[0]], spec.value[1]
    elif isinstance(spec.value, tuple):
        row.values = list(spec.value)
    elif spec.value is not None:
        row.values = [spec.value]
    return row


def row_from_args(entity: EntitySpec, index: int | None, args) -> FilterRow:
    """One row from query arguments (the htmx fragment that adds or refreshes a row)."""
    if index is None:
        return FilterRow(index=next_index(indices_in(args)))
    form = FilterForm(args, prefix=f"filters-{index}")
    return row_from_form(entity, index, form)
