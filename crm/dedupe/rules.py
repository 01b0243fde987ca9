"""Duplicate rules as the matcher reads them: frozen ``Rule``s, checked, and the defaults.

``check`` returns every error of a rule's data at once, keyed by what it concerns
(``conditions.0.field`` ...); ``save`` stores a checked rule and queues the rebuild of its
keys; ``enabled_rules`` reads the rules of an entity. ``person_rules`` and
``company_rules`` are the default rules, as data a starter package can carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select

from crm.dedupe.models import ACTIONS, BLOCK, WARN, DuplicateRule
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata.keys import KEY_RE, N_
from crm.metadata.spec import EntitySpec

METHODS = ("exact", "normalized", "phone", "email", "company", "domain", "fuzzy")
DEFAULT_THRESHOLD = 0.85


@dataclass(frozen=True)
class Condition:
    """One comparison: ``fields`` of the rule's entity (read as one text when several),
    ``other_fields`` of the compared entity, ``method``, and for fuzzy a ``threshold``."""

    fields: tuple[str, ...]
    method: str
    threshold: float = 1.0
    other_fields: tuple[str, ...] = ()

    def fields_on(self, side: str) -> tuple[str, ...]:
        """The fields read on ``side`` ("this": the rule's entity, "other": the compared)."""
        return self.other_fields if side == "other" and self.other_fields else self.fields


@dataclass(frozen=True)
class Rule:
    """A rule as the matcher reads it (see ``crm.dedupe.models`` for the meaning)."""

    key: str
    entity_key: str
    name: str
    conditions: tuple[Condition, ...]
    action: str = WARN
    on_create: bool = True
    on_edit: bool = True
    compare_entity_key: str | None = None
    enabled: bool = True
    translations: Mapping[str, Any] | None = None

    @property
    def target_entity_key(self) -> str:
        """The entity whose records this rule finds: the compared one, or its own."""
        return self.compare_entity_key or self.entity_key

    @property
    def blocks(self) -> bool:
        return self.action == BLOCK

    def sides_of(self, entity_key: str) -> tuple[str, ...]:
        """The sides records of ``entity_key`` stand on under this rule ("this", "other")."""
        out = []
        if entity_key == self.entity_key:
            out.append("this")
        if self.compare_entity_key and entity_key == self.compare_entity_key:
            out.append("other")
        return tuple(out)


def _names(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        return None
    if not all(isinstance(v, str) and KEY_RE.match(v) for v in value):
        return None
    return tuple(value)


def check(
    data: Mapping[str, Any],
    spec: EntitySpec | None = None,
    other: EntitySpec | None = None,
) -> tuple[Rule | None, dict[str, list[str]]]:
    """``(rule, {})`` for valid rule data, or ``(None, errors)`` with every error keyed by
    what it concerns. With ``spec`` (and ``other`` for a cross-entity rule), each field
    must be a live (not archived) field of that entity."""
    errors: dict[str, list[str]] = {}

    def err(where: str, message: str) -> None:
        errors.setdefault(where, []).append(message)

    key = data.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        err("key", _("Use lower-case letters, digits and underscores, starting with a letter."))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        err("name", _("Give the rule a name (at most 200 characters)."))
    if data.get("action", WARN) not in ACTIONS:
        err("action", _("Choose whether the rule warns or blocks."))
    raw = data.get("conditions")
    conditions: list[Condition] = []
    if not isinstance(raw, list) or not raw:
        err("conditions", _("A rule needs at least one condition."))
        raw = []
    for i, c in enumerate(raw):
        where = f"conditions.{i}"
        if not isinstance(c, Mapping):
            err(where, _("This condition is not readable."))
            continue
        fields, others = _names(c.get("field")), _names(c.get("other_field", c.get("field")))
        method, threshold = c.get("method"), c.get("threshold", DEFAULT_THRESHOLD)
        if fields is None or others is None:
            err(f"{where}.field", _("Choose a field to compare."))
        if method not in METHODS:
            err(f"{where}.method", _("Choose how the field is compared."))
        if method == "fuzzy" and (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not 0.0 <= threshold <= 1.0
        ):
            err(f"{where}.threshold", _("The similarity must be between 0 and 1."))
        for entity, names in ((spec, fields), (other or spec, others)):
            for f in names or () if entity is not None else ():
                if entity.field(f) is None:
                    err(
                        f"{where}.field",
                        _("%(entity)s has no field %(field)s (or it is archived).",
                          entity=entity.label_singular, field=f),
                    )  # fmt: skip
        if not any(f"{where}.{part}" in errors for part in ("field", "method", "threshold")):
            conditions.append(
                Condition(
                    fields=fields,
                    method=method,
                    threshold=float(threshold) if method == "fuzzy" else 1.0,
                    other_fields=others if others != fields else (),
                )
            )
    if errors:
        return None, errors
    return Rule(
        key=key,
        entity_key=str(data.get("entity_key") or (spec.key if spec else "")),
        name=name.strip(),
        conditions=tuple(conditions),
        action=data.get("action", WARN),
        on_create=bool(data.get("on_create", True)),
        on_edit=bool(data.get("on_edit", True)),
        compare_entity_key=data.get("compare_entity_key") or None,
        enabled=bool(data.get("enabled", True)),
        translations=data.get("translations") or {},
    ), {}


def as_data(rule: Rule) -> dict[str, Any]:
    """The rule as the JSON a package or the table stores (``check`` reads it back)."""
    conditions = []
    for c in rule.conditions:
        item: dict[str, Any] = {"field": list(c.fields) if len(c.fields) > 1 else c.fields[0]}
        item["method"] = c.method
        if c.method == "fuzzy":
            item["threshold"] = c.threshold
        if c.other_fields:
            item["other_field"] = (
                list(c.other_fields) if len(c.other_fields) > 1 else c.other_fields[0]
            )
        conditions.append(item)
    return {
        "key": rule.key,
        "entity_key": rule.entity_key,
        "name": rule.name,
        "translations": dict(rule.translations or {}),
        "enabled": rule.enabled,
        "action": rule.action,
        "on_create": rule.on_create,
        "on_edit": rule.on_edit,
        "compare_entity_key": rule.compare_entity_key,
        "conditions": conditions,
    }


def from_row(row: DuplicateRule) -> Rule:
    """The stored rule as a ``Rule``; ``ValueError`` when its JSON no longer reads."""
    rule, errors = check(
        {
            "key": row.key,
            "entity_key": row.entity_key,
            "name": row.name,
            "translations": row.translations,
            "enabled": row.enabled,
            "action": row.action,
            "on_create": row.on_create,
            "on_edit": row.on_edit,
            "compare_entity_key": row.compare_entity_key,
            "conditions": row.conditions,
        }
    )
    if rule is None:
        raise ValueError(f"Duplicate rule {row.key!r} does not read: {errors}")
    return rule


def enabled_rules(entity_key: str, *, involving: bool = False) -> list[Rule]:
    """The enabled rules of ``entity_key`` in position order; with ``involving``, also the
    rules of other entities that compare with it (whose keys its records carry)."""
    where = DuplicateRule.entity_key == entity_key
    if involving:
        where = or_(where, DuplicateRule.compare_entity_key == entity_key)
    rows = db.session.scalars(
        select(DuplicateRule)
        .where(where, DuplicateRule.enabled.is_(True))
        .order_by(DuplicateRule.position, DuplicateRule.id)
    )
    return [from_row(r) for r in rows]


def save(
    data: Mapping[str, Any],
    spec: EntitySpec,
    other: EntitySpec | None = None,
    *,
    actor_id: int | None = None,
) -> DuplicateRule:
    """Create or replace (by ``key``) the rule of ``spec`` described by ``data``, in the
    caller's unit of work, as a configuration change: the metadata version is bumped, the
    change log gets a ``save_duplicate_rule`` entry (before and after), and the rebuild of
    the rule's keys is queued. ``ValidationFailed`` with every error when the data does
    not check against the entities' live fields, or the key belongs to another entity's
    rule."""
    from crm.jobs import outbox
    from crm.metadata.versioning import bump_version, log_change

    rule, errors = check({**data, "entity_key": spec.key}, spec, other)
    if rule is None:
        raise ValidationFailed(_("The duplicate rule was not saved."), errors=errors)
    stored = as_data(rule)
    row = db.session.scalar(select(DuplicateRule).where(DuplicateRule.key == rule.key))
    before = None
    if row is None:
        row = DuplicateRule(key=rule.key)
        db.session.add(row)
    elif row.entity_key != spec.key:
        raise ValidationFailed(
            _("The duplicate rule was not saved."),
            errors={"key": [_("Another entity has a duplicate rule with this key.")]},
        )
    else:
        before = as_data(from_row(row))
    for name in ("entity_key", "name", "translations", "enabled", "action", "on_create"):
        setattr(row, name, stored[name])
    row.on_edit, row.compare_entity_key = stored["on_edit"], stored["compare_entity_key"]
    row.conditions = stored["conditions"]
    db.session.flush()
    log_change(
        version=bump_version(),
        actor_id=actor_id,
        entity_key=spec.key,
        action="save_duplicate_rule",
        before=before,
        after=stored,
    )
    outbox.enqueue("dedupe.rebuild", {"rule": rule.key}, user_id=actor_id)
    return row


# --- the default rules (names in the company's default language: English; marked for
# extraction with ``N_``, their translations carried as data below)

PERSON_NAME_EMAIL = N_("Same person: similar name and same e-mail")
PERSON_NAME_PHONE = N_("Same person: similar name and same phone")
PERSON_NAME_BIRTH = N_("Same person: similar name and same date of birth")
PERSON_NAME_ID = N_("Same person: similar name and same ID number")
PERSON_ID_BIRTH = N_("Same person: same ID number and date of birth")
COMPANY_NAME_PHONE = N_("Same company: same name and phone")
COMPANY_NAME_WEBSITE = N_("Same company: same name and website")
PERSON_THRESHOLD = 0.8


# The default rules' names in the other languages, carried as data like a starter's labels
# (a rule's name is the administrator's to change; these are its first translations).
_NAME_TRANSLATIONS: dict[str, dict[str, str]] = {
    "Same company: same name and phone": {
        "zh_Hans": "同一公司：名称相同且电话相同",
        "es": "Misma empresa: mismo nombre y teléfono",
    },
    "Same company: same name and website": {
        "zh_Hans": "同一公司：名称相同且网站相同",
        "es": "Misma empresa: mismo nombre y sitio web",
    },
    "Same person: same ID number and date of birth": {
        "zh_Hans": "同一人：证件号码和出生日期相同",
        "es": "Misma persona: mismo número de identificación y fecha de nacimiento",
    },
    "Same person: similar name and same ID number": {
        "zh_Hans": "同一人：姓名相近且证件号码相同",
        "es": "Misma persona: nombre parecido y mismo número de identificación",
    },
    "Same person: similar name and same date of birth": {
        "zh_Hans": "同一人：姓名相近且出生日期相同",
        "es": "Misma persona: nombre parecido y misma fecha de nacimiento",
    },
    "Same person: similar name and same e-mail": {
        "zh_Hans": "同一人：姓名相近且邮箱相同",
        "es": "Misma persona: nombre parecido y mismo correo electrónico",
    },
    "Same person: similar name and same phone": {
        "zh_Hans": "同一人：姓名相近且电话相同",
        "es": "Misma persona: nombre parecido y mismo teléfono",
    },
}


def _rule(key: str, entity: str, name: str, conditions: list[dict]) -> dict[str, Any]:
    return {
        "key": key,
        "entity_key": entity,
        "name": name,
        "translations": {"name": dict(_NAME_TRANSLATIONS.get(name, {}))},
        "enabled": True,
        "action": WARN,
        "on_create": True,
        "on_edit": True,
        "compare_entity_key": None,
        "conditions": conditions,
    }


def person_rules(
    entity: str,
    *,
    name: str | Iterable[str] = "full_name",
    email: str | None = "email",
    phone: str | None = "phone",
    birth_date: str | None = None,
    id_number: str | None = None,
) -> list[dict[str, Any]]:
    """The default rules of a person entity (contact, lead), as rule data: a similar name
    (fuzzy, word order free) and the same e-mail; or a similar name and the same phone.
    When the entity has a date of birth and/or an ID number (passport, national ID, tax
    number), any two of name, date of birth and ID number agreeing. The name is one field
    or several read together (["first_name", "last_name"])."""
    names: Any = name if isinstance(name, str) else list(name)
    fuzzy = {"field": names, "method": "fuzzy", "threshold": PERSON_THRESHOLD}
    out = []
    if email:
        out.append(_rule(f"{entity}_name_email", entity, PERSON_NAME_EMAIL,
                         [fuzzy, {"field": email, "method": "email"}]))  # fmt: skip
    if phone:
        out.append(_rule(f"{entity}_name_phone", entity, PERSON_NAME_PHONE,
                         [fuzzy, {"field": phone, "method": "phone"}]))  # fmt: skip
    birth = {"field": birth_date, "method": "exact"}
    ident = {"field": id_number, "method": "normalized"}
    if birth_date:
        out.append(_rule(f"{entity}_name_birth", entity, PERSON_NAME_BIRTH, [fuzzy, birth]))
    if id_number:
        out.append(_rule(f"{entity}_name_id", entity, PERSON_NAME_ID, [fuzzy, ident]))
    if birth_date and id_number:
        out.append(_rule(f"{entity}_id_birth", entity, PERSON_ID_BIRTH, [ident, birth]))
    return out


def company_rules(
    entity: str, *, name: str = "name", phone: str | None = "phone", website: str | None = "website"
) -> list[dict[str, Any]]:
    """The default rules of a company entity (account): the same name without its legal
    form and the same phone; or the same name and the same website domain."""
    company = {"field": name, "method": "company"}
    out = []
    if phone:
        out.append(_rule(f"{entity}_name_phone", entity, COMPANY_NAME_PHONE,
                         [company, {"field": phone, "method": "phone"}]))  # fmt: skip
    if website:
        out.append(_rule(f"{entity}_name_website", entity, COMPANY_NAME_WEBSITE,
                         [company, {"field": website, "method": "domain"}]))  # fmt: skip
    return out
