"""Record forms built from metadata: entity spec + layout + the user's field rights.

WTForms' non-declarative ``BaseForm`` is used on purpose: field keys chosen by
administrators (``data``, ``errors``, ``meta`` ...) can never collide with attributes of a
form class. CSRF is enforced for every POST by ``CSRFProtect``; templates add the token.
The unbound field list is cached per metadata version, entity and field set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.datastructures import MultiDict
from wtforms.form import BaseForm

from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec, FieldSpec
from forms.errors import attach_errors

__all__ = ["attach_errors", "raw_values", "record_form"]  # attach_errors: the shared one


def _unbound_fields(spec: EntitySpec, fields: tuple[FieldSpec, ...]) -> list:
    cache = specs.current().derived
    key = ("form-fields", spec.key, tuple(f.key for f in fields))
    found = cache.get(key)
    if found is None:
        found = [(f.key, types.get(f.type).form_field(f)) for f in fields]
        cache[key] = found
    return found


def record_form(
    spec: EntitySpec,
    fields: Iterable[FieldSpec],
    *,
    formdata: MultiDict | None = None,
    data: Mapping[str, Any] | None = None,
) -> BaseForm:
    """A bound form for ``fields`` of ``spec``, filled from ``formdata`` (a POST) or
    ``data`` (a stored record)."""
    form = BaseForm(_unbound_fields(spec, tuple(fields)))
    form.process(formdata=formdata, data=dict(data or {}))
    return form


def raw_values(fields: Iterable[FieldSpec], formdata: MultiDict) -> dict[str, Any]:
    """The submitted raw values of ``fields`` as the record service takes them.

    A checkbox that is not ticked is not sent at all by browsers: it means "no". A
    multi-select sends one value per choice."""
    out: dict[str, Any] = {}
    for f in fields:
        widget = types.get(f.type).widget
        if widget == "checkbox":
            # the type's parse reads the value: "0", "false", "no", "off" are no too,
            # anything else that is not yes is refused (a checkbox only ever sends "y")
            out[f.key] = formdata.get(f.key) or "false"
        elif widget == "multiselect":
            if f.key in formdata:
                out[f.key] = formdata.getlist(f.key)
        elif f.key in formdata:
            out[f.key] = formdata.get(f.key)
    return out
