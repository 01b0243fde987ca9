"""Service errors onto form fields, by the key each error names (never by its wording).

Services raise ``ValidationFailed(message, errors={key: [messages]})`` where the key is a
field key (``"email"``), a path ending in one (``"deal.amount.max_length"``) or a code that
names no input (``"__all__"``, ``"entity"``, ``"deal.amount"``). ``attach_errors`` puts
each message on the form field its key names and hands back the rest, so rewording a
message can never move it to another field.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from crm.errors import DomainError


def attach_errors(
    form: Any,
    errors: Mapping[str, Iterable[str]] | DomainError,
    *,
    prefix: str = "",
    fields: Collection[str] | None = None,
) -> list[str]:
    """Add each error to the field of ``form`` (a WTForms form) its key names; return the
    messages that name no such field, in order, for the caller to show above the form.

    ``errors``: the ``errors`` of a domain error, or the error itself. ``prefix``: the part
    of every key that names the form's subject rather than one input (``"deal.amount."``
    for a field's settings form); keys without it name no field. ``fields``: the names of
    the inputs the page shows (default: every field of the form); an error for an input
    that is not shown is returned with the loose ones, never lost.
    """
    if isinstance(errors, DomainError):
        errors = errors.errors
    shown = form._fields if fields is None else fields
    loose: list[str] = []
    for key, messages in errors.items():
        name = key[len(prefix) :] if prefix and key.startswith(prefix) else None
        if not prefix:
            name = key
        if name is not None and name in shown and name in form._fields:
            field = form._fields[name]
            field.errors = [*list(field.errors or []), *messages]
        else:
            loose.extend(messages)
    return loose
