"""The WTForms fields the types edit their values with (one set of parsing rules for forms,
imports and the API: input goes through the entry's ``parse``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import FunctionType
from typing import Any

from flask_babel import gettext as _
from wtforms import BooleanField, Field, SelectField, SelectMultipleField, StringField
from wtforms.utils import unset_value
from wtforms.validators import Optional, StopValidation

from crm.metadata.spec import FieldSpec
from crm.metadata.types.base import blank


def choice_label(spec: FieldSpec, key: str) -> str:
    """The label of choice ``key`` (the key itself when it is not a choice)."""
    choice = spec.choice(key)
    return choice.label if choice is not None else key


def choice_keys(spec: FieldSpec, value: Any, *, held: tuple[str, ...] = ()) -> list[str]:
    """Choice keys from a list or a comma/semicolon separated string, de-duplicated, in
    choice order. Each must be an active choice (or one of ``held``, already stored);
    ValueError otherwise."""
    if isinstance(value, str):
        value = re.split(r"[,;]", value)
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(_("Choose from the list."))
    wanted = {str(v).strip() for v in value if not blank(v)}
    unknown = sorted(wanted - {c.key for c in spec.active_choices} - set(held))
    if unknown:
        raise ValueError(_("“%(key)s” is not one of the choices.", key=unknown[0]))
    return [c.key for c in spec.choices if c.key in wanted]


class ParsedField(Field):
    """A form field whose input goes through the type's ``parse_input``: what a person
    types, in their language and time zone (the record service reads the submitted text
    the same way).

    Shown again (a form with a problem elsewhere), the input holds the value as it was
    read, in the form the input takes (a date typed 03/04/2026 comes back as the ISO day
    a date input shows), and ``read_as`` says it in words ("Read as 3 April 2026."); a
    value that could not be read comes back as typed, with its message."""

    def __init__(self, label=None, validators=None, *, spec: FieldSpec, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.spec = spec
        self.read_as = ""

    def process_formdata(self, valuelist):
        if valuelist:
            from crm.metadata.types import get  # the registry imports this module

            ftype = get(self.spec.type)
            self.data = None
            self.data = ftype.parse_input(self.spec, valuelist[0])
            self.read_as = ftype.hint(self.spec, valuelist[0], self.data)

    def _value(self):
        from crm.metadata.types import get

        if self.raw_data and (self.process_errors or self.data is None):
            return self.raw_data[0]
        return get(self.spec.type).input_value(self.spec, self.data)


class PicklistField(SelectField):
    """A select of the active choices; a record's archived value stays selectable."""

    def __init__(self, label=None, validators=None, *, spec: FieldSpec, **kwargs):
        choices = [("", "—"), *((c.key, c.label) for c in spec.active_choices)]
        super().__init__(label, validators, choices=choices, validate_choice=False, **kwargs)
        self.spec = spec

    def _held(self) -> tuple[str, ...]:
        held = self.object_data if isinstance(self.object_data, list) else [self.object_data]
        return tuple(k for k in held if isinstance(k, str))

    def process(self, formdata, data=unset_value, extra_filters=None):
        super().process(formdata, data, extra_filters)
        shown = {value for value, *_rest in self.choices}
        for key in self._held():
            if key not in shown:
                label = choice_label(self.spec, key)
                self.choices.append((key, _("%(label)s (archived)", label=label)))

    def process_data(self, value):
        self.data = value

    def process_formdata(self, valuelist):
        if valuelist and not blank(valuelist[0]):
            self.data = None
            self.data = choice_keys(self.spec, [valuelist[0]], held=self._held())[0]
        elif valuelist:
            self.data = None


class MultiPicklistField(PicklistField, SelectMultipleField):
    """A multiple select of the active choices, stored in choice order."""

    def __init__(self, label=None, validators=None, *, spec: FieldSpec, **kwargs):
        super().__init__(label, validators, spec=spec, **kwargs)
        self.choices = self.choices[1:]

    def process_formdata(self, valuelist):
        self.data = None
        self.data = choice_keys(self.spec, valuelist, held=self._held()) or None


class ReadOnlyField(StringField):
    """Shown, never taken from the form (auto-numbers are assigned by the record service)."""

    def process_formdata(self, valuelist):
        pass


class Required:
    """Refuses a missing value; unlike DataRequired it accepts 0 (and leaves a parse error
    as the only message)."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        if not field.process_errors and field.data in (None, "", []):
            raise StopValidation(_("This field is required."))


def form_field(cls: type, widget: Any = None, **render_kw: Any) -> Callable[[FieldSpec], Any]:
    """A factory of unbound ``cls`` fields for a spec: label, help text, required or
    optional, ``widget`` (or a function of the spec giving it), ``render_kw`` values (or
    functions of the spec)."""

    def build(spec: FieldSpec):
        kwargs: dict[str, Any] = {"description": spec.help_text, "spec": spec}
        if widget is not None:
            kwargs["widget"] = widget(spec) if isinstance(widget, FunctionType) else widget
        if render_kw:
            kwargs["render_kw"] = {k: v(spec) if callable(v) else v for k, v in render_kw.items()}
        validators = [Required() if spec.required else Optional()]
        return cls(spec.label, validators=validators, **kwargs)

    return build


def boolean_field(spec: FieldSpec):
    # what the type's parse reads as no is unticked when the form is shown again
    return BooleanField(
        spec.label, description=spec.help_text, false_values=("", "false", "no", "0", "off", "n")
    )


def read_only_field(spec: FieldSpec):
    return ReadOnlyField(spec.label, description=spec.help_text, render_kw={"readonly": True})
