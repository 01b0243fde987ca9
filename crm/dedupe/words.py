"""Duplicate rules in words, in the reader's language: a rule's name, its conditions,
what it does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.dedupe.models import BLOCK
from crm.i18n import pick, request_locale
from crm.metadata import specs
from crm.metadata.spec import EntitySpec

METHOD_WORDS = {
    "exact": _l("exactly the same"),
    "normalized": _l("the same, ignoring case, accents, spaces and punctuation"),
    "phone": _l("the same phone number"),
    "email": _l("the same e-mail address"),
    "company": _l("the same company name, without its legal form"),
    "domain": _l("the same web domain"),
    "fuzzy": _l("similar"),
}
ACTION_WORDS = {"warn": _l("Warn"), "block": _l("Block")}


def rule_name(row: Any) -> str:
    """The rule's name in the reader's language."""
    return pick(row.name, (row.translations or {}).get("name"), request_locale())


def _labels(entity: EntitySpec | None, value: Any) -> str:
    names = [value] if isinstance(value, str) else list(value or [])
    out = []
    for key in names:
        f = entity.field(key, include_archived=True) if entity is not None else None
        out.append(str(f.label) if f is not None else str(key))
    return " + ".join(out)


def describe_condition(
    entity: EntitySpec | None, c: Mapping[str, Any], other: EntitySpec | None = None
) -> str:
    """One condition in words: "Name: the same company name, without its legal form"."""
    method = c.get("method")
    how = str(METHOD_WORDS.get(method, method))
    if method == "fuzzy":
        threshold = c.get("threshold")
        if isinstance(threshold, int | float):
            how = _("similar (at least %(percent)s%%)", percent=round(threshold * 100))
    text = f"{_labels(entity, c.get('field'))}: {how}"
    if other is not None:
        them = _labels(other, c.get("other_field") or c.get("field"))
        text += " " + _("(compared with %(entity)s: %(fields)s)", entity=other.label_singular,
                         fields=them)  # fmt: skip
    return text


def describe(row: Any) -> dict[str, Any]:
    """What the rule list shows of a rule: its conditions in words, its action, when."""
    compiled = specs.current()
    entity = compiled.entity(row.entity_key, include_archived=True)
    other = (
        compiled.entity(row.compare_entity_key, include_archived=True)
        if row.compare_entity_key
        else None
    )
    conditions = [
        describe_condition(entity, c, other) for c in row.conditions or [] if isinstance(c, dict)
    ]
    when = []
    if row.on_create:
        when.append(_("on create"))
    if row.on_edit:
        when.append(_("on edit"))
    return {
        "row": row,
        "name": rule_name(row),
        "conditions": conditions,
        "blocks": row.action == BLOCK,
        "action": str(ACTION_WORDS.get(row.action, row.action)),
        "when": ", ".join(when) or _("never on entry"),
        "compared": other.label_plural if other is not None else "",
    }
