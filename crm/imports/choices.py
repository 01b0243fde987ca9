"""Picklist values of a file added as new choices when the import starts.

The unknown-values table of the mapping screen offers administrators (the "configure"
right: they change the entity's design) to add a text as a new choice (``NEW`` in the
value table). ``add_new_choices`` adds them through the schema service, as the field
designer does (one schema change: validated, the metadata version bumped), before any row
runs, and returns the mapping with each ``NEW`` replaced by the new choice's key, so the
run engine only ever sees existing choices. The new choice's label is the text as the
file writes it, in the company's language and in the importing user's own (when that
differs): the other languages show it as it is until someone translates it.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

from flask_babel import gettext as _

from crm.access import policy
from crm.errors import Forbidden, ValidationFailed
from crm.i18n import company_locale, known_locale
from crm.imports.mapping import NEW, Mapping, new_choices
from crm.metadata import specs, types
from crm.metadata.keys import clean_label, slug
from crm.metadata.spec import EntitySpec

__all__ = ["add_new_choices", "may_add_choices"]


def may_add_choices(user: Any) -> bool:
    """Whether ``user`` may add choices to picklists from an import (administrators)."""
    return policy.can(user, "configure")


def add_new_choices(
    user: Any, spec: EntitySpec, mapping: Mapping, *, locale: str | None = None
) -> Mapping:
    """Add the texts ``mapping``'s value tables mark ``NEW`` as choices of their fields
    (one schema change, committed) and return the mapping with those entries naming the
    new keys. ``locale``: the importing user's language (the label is set in it too).

    Raises ``Forbidden`` for a user who may not change the design, ``ValidationFailed``
    (nothing added) for a field whose choices a feature manages or a text that cannot be
    a label."""
    wanted = new_choices(mapping)
    if not wanted:
        return mapping
    if not may_add_choices(user):
        raise Forbidden(_("Only administrators can add choices to a picklist."))
    from crm.schema import service as schema

    raw = specs.raw().entity(spec.key)
    theirs = known_locale(locale)
    keys: dict[str, dict[str, str]] = {}  # field -> text -> new key
    with schema.change(actor_id=user.id) as work:
        for field_key, texts in wanted.items():
            f = raw.field(field_key) if raw is not None else None
            if f is None or not types.get(f.type).has_choices or types.get(f.type).managed:
                raise ValidationFailed(
                    _("Choices cannot be added to this field from an import."),
                    errors={field_key: [_("Choices cannot be added to this field.")]},
                )
            current = [
                {"key": c.key, "label": c.label, "color": c.color, "order": c.order,
                 "archived": c.archived, "labels": dict(c.labels)}
                for c in f.choices
            ]  # fmt: skip
            taken = {c.key for c in f.choices}
            added: dict[str, str] = {}
            for text in texts:
                label = clean_label(text)
                key = slug(label, taken=taken)
                taken.add(key)
                added[text] = key
                labels = {theirs: label} if theirs and theirs != company_locale() else {}
                current.append(
                    {"key": key, "label": label, "order": len(current), "labels": labels}
                )
            work.update_field(spec.key, field_key, choices=current)
            keys[field_key] = added
    columns = tuple(
        replace(
            c,
            values=MappingProxyType(
                {t: (keys[c.field][t] if k == NEW else k) for t, k in c.values.items()}
            ),
        )
        if c.field in keys
        else c
        for c in mapping.columns
    )
    return replace(mapping, columns=columns)
