"""One filter row: a field, a condition and the value typed so far, and how that value is
entered. The list page's "Add filter" builder (``crm.records.views.filters.Builder``) and
the list-view designer's rows (``forms.list_views.FilterRow``) are both this model, so
they offer the same conditions in the same words, take values the same way and read
them with the same rules (``crm.metadata.list_views.check_filter``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from crm.metadata import types
from crm.metadata.spec import FieldSpec


@dataclass
class FilterRowModel:
    """What a filter row shows: the chosen field and condition, the values entered so far
    (``values``; ``value2`` is the "to" end of "between") and the problems with them."""

    field: FieldSpec | None = None
    op: str = ""
    values: list[str] = dataclasses.field(default_factory=list)
    value2: str = ""
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def ftype(self) -> types.FieldType | None:
        return types.get(self.field.type) if self.field is not None else None

    @property
    def operators(self) -> list[tuple[str, str]]:
        """``(op, words)`` of the conditions the field offers."""
        if self.field is None:
            return []
        ftype = types.get(self.field.type)
        return [(op, ftype.operator_label(op)) for op in types.operators_of(self.field)]

    @property
    def lookup_target(self) -> Any:
        """The entity whose records a reference value may be searched among; None (a
        subclass that can search says which)."""
        return None

    @property
    def widget(self) -> str:
        """How the value is entered: none, period, between, choices (several), choice
        (one), people, person, lookups (several), lookup, or a plain input (number, date,
        text: ``input_type``)."""
        ftype, op = self.ftype, self.op
        if ftype is None or not op or op in types.NO_VALUE_OPS:
            return "none"
        if op == "relative":
            return "period"
        if op == "between":
            return "between"
        many = op in types.LIST_OPS
        if ftype.has_choices:
            return "choices" if many else "choice"
        if ftype.reference == "user":
            return "people" if many else "person"
        if ftype.reference == "record":
            if self.lookup_target is None:
                return "number"
            return "lookups" if many else "lookup"
        return self.input_type

    @property
    def input_type(self) -> str:
        """The kind of plain input a value takes: text, number or date."""
        ftype = self.ftype
        if ftype is None or self.op in types.SEARCH_OPS:
            return "text"
        return ftype.filter_input

    @property
    def record_number(self) -> bool:
        """True when a plain number input stands for a record's number."""
        return self.ftype is not None and self.ftype.reference == "record"

    @property
    def unit(self) -> str:
        """What a number is counted in: the currency code, or %."""
        return self.ftype.unit(self.field) if self.ftype is not None else ""

    @property
    def step(self) -> str:
        return self.ftype.step if self.ftype is not None else "1"

    @property
    def value(self) -> str:
        return self.values[0] if self.values else ""

    def choices(self) -> list[tuple[str, str, str]]:
        """``(key, label, colour)`` of the active choices, and of chosen archived ones."""
        if self.field is None:
            return []
        items = [(c.key, c.label, c.color or "gray") for c in self.field.active_choices]
        known = {k for k, _, _ in items}
        for key in self.values:
            c = self.field.choice(key)
            if key not in known and c is not None:
                archived = _("%(value)s (archived)", value=c.label)
                items.append((key, archived, c.color or "gray"))
        return items

    def to_raw(self) -> dict:
        """The filter as ``list_views.check_filter`` takes it."""
        value: Any
        if self.op == "between":
            value = [self.value, self.value2]
        elif self.op in types.LIST_OPS:
            value = self.values
        elif self.op in types.NO_VALUE_OPS:
            value = None
        else:
            value = self.value
        return {"field": self.field.key if self.field else "", "op": self.op, "value": value}
