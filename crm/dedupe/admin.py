"""Duplicate rules as configuration: the service the designer screens and packages write
through.

Every write (create, update, enable, disable, delete, add the defaults) runs in one unit
of work that bumps the metadata version and adds a change-log entry
(``save_duplicate_rule`` through ``rules.save``; ``enable_duplicate_rule``,
``disable_duplicate_rule``, ``delete_duplicate_rule``), and queues the rebuild of the
rule's blocking keys (a disabled or deleted rule loses them in that job). Only people
with the configure right write rules. Every problem is reported at once in
``ValidationFailed.errors``, keyed by what it concerns (``key``, ``name``,
``compare_entity_key``, ``conditions.0.field`` ...); nothing is written then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from crm.access.models import User
from crm.access.policy import CONFIGURE, can
from crm.dedupe import rules
from crm.dedupe.models import DuplicateRule
from crm.errors import Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import labels, types
from crm.metadata import specs as spec_cache
from crm.metadata.keys import key_problems
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.metadata.versioning import bump_version, log_change
from crm.uow import unit_of_work

MAX_RULES = 100  # per entity
MAX_CONDITIONS = 5
MAX_FIELDS = 3  # read together as one text
NAME_LIMITS = {"name": 200}
PERSON, COMPANY = "person", "company"


def _unit():
    return unit_of_work(clean=True, after_commit=[spec_cache.forget_request_specs])


def _actor(actor_id: int | None) -> None:
    if actor_id is None:
        return
    user = db.session.get(User, actor_id)
    if user is None or not can(user, CONFIGURE):
        raise Forbidden(_("Only administrators can change duplicate rules."))


def live_entity(key: Any) -> EntitySpec | None:
    """The live (not archived) entity ``key`` as the schema sees it, or None."""
    if not isinstance(key, str):
        return None
    entity = spec_cache.raw().entity(key)
    return entity if entity is not None and not entity.archived else None


def comparable(field: FieldSpec) -> bool:
    """Whether a duplicate rule may compare ``field`` (one value a record holds)."""
    entry = types.get(field.type)
    return (entry.textual or entry.can_be_unique) and not entry.managed


def _row(rule_id: Any) -> DuplicateRule:
    if not isinstance(rule_id, int) or isinstance(rule_id, bool) or not 1 <= rule_id < 2**31:
        raise NotFound(_("There is no such duplicate rule."))
    row = db.session.get(DuplicateRule, rule_id)
    if row is None:
        raise NotFound(_("There is no such duplicate rule."))
    return row


def get_rule(rule_id: int) -> DuplicateRule:
    """Duplicate rule ``rule_id``, or ``NotFound``."""
    return _row(rule_id)


def rule_by_key(key: str) -> DuplicateRule | None:
    """The duplicate rule with ``key``, or None."""
    return db.session.scalar(select(DuplicateRule).where(DuplicateRule.key == key))


def all_rules(entity_key: str | None = None) -> list[DuplicateRule]:
    """Every duplicate rule (of ``entity_key``), by entity then position."""
    q = select(DuplicateRule).order_by(
        DuplicateRule.entity_key, DuplicateRule.position, DuplicateRule.id
    )
    if entity_key is not None:
        q = q.where(DuplicateRule.entity_key == entity_key)
    return list(db.session.scalars(q))


def stored(row: DuplicateRule) -> dict[str, Any]:
    """The rule's data as stored (what ``rules.check`` reads)."""
    return {
        "key": row.key,
        "entity_key": row.entity_key,
        "name": row.name,
        "translations": dict(row.translations or {}),
        "enabled": bool(row.enabled),
        "action": row.action,
        "on_create": bool(row.on_create),
        "on_edit": bool(row.on_edit),
        "compare_entity_key": row.compare_entity_key,
        "conditions": list(row.conditions or []),
    }


def problems(
    data: Mapping[str, Any], entity: EntitySpec, *, new: bool
) -> tuple[dict[str, Any], dict[str, list[str]], EntitySpec | None]:
    """The cleaned data, every problem by where it is, and the compared entity. Checks the
    key (free when ``new``), the name's translations, the compared entity, the number of
    conditions and fields, and the rule itself against the live fields (``rules.check``)."""
    errors: dict[str, list[str]] = {}
    clean = dict(data)
    key = data.get("key")
    if new:
        found = key_problems(key if isinstance(key, str) else "", what="key")
        if found:
            errors["key"] = found
        elif rule_by_key(key) is not None:
            errors["key"] = [_("The key “%(key)s” is already used.", key=key)]
    translated, bad = labels.check_parts(data.get("translations"), NAME_LIMITS)
    for messages in bad.values():
        errors.setdefault("name", []).extend(messages)
    clean["translations"] = translated
    other = None
    compare = data.get("compare_entity_key") or None
    if compare is not None:
        other = live_entity(compare)
        if other is None or other.key == entity.key:
            errors["compare_entity_key"] = [_("Choose another kind of record to compare with.")]
            other = None
            clean["compare_entity_key"] = None
    conditions = data.get("conditions")
    if isinstance(conditions, list):
        if len(conditions) > MAX_CONDITIONS:
            errors.setdefault("conditions", []).append(
                _("A rule has at most %(num)d conditions.", num=MAX_CONDITIONS)
            )
        for i, c in enumerate(conditions):
            if not isinstance(c, Mapping):
                continue
            for part in ("field", "other_field"):
                if isinstance(c.get(part), list) and len(c[part]) > MAX_FIELDS:
                    errors.setdefault(f"conditions.{i}.field", []).append(
                        _("Compare at most %(num)d fields together.", num=MAX_FIELDS)
                    )
            threshold = c.get("threshold", rules.DEFAULT_THRESHOLD)
            number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
            if c.get("method") == "fuzzy" and not (number and 0.5 <= threshold <= 1.0):
                errors.setdefault(f"conditions.{i}.threshold", []).append(
                    _("The similarity must be between 0.5 and 1.")
                )
    _rule, found = rules.check({**clean, "entity_key": entity.key}, entity, other)
    for where, messages in found.items():
        for m in messages:
            if m not in errors.get(where, []):
                errors.setdefault(where, []).append(m)
    # the similarity's own range message says more than the core's 0..1
    if any(w.endswith(".threshold") for w in errors):
        for w in [w for w in errors if w.endswith(".threshold")]:
            if len(errors[w]) > 1:
                errors[w] = errors[w][:1]
    return clean, errors, other


def _save(data: Mapping[str, Any], entity: EntitySpec, *, new: bool, actor_id: int | None):
    clean, errors, other = problems(data, entity, new=new)
    if new and not errors:
        count = db.session.scalar(
            select(func.count()).where(DuplicateRule.entity_key == entity.key)
        )
        if count >= MAX_RULES:
            errors["key"] = [
                _("An entity can have at most %(max)d duplicate rules.", max=MAX_RULES)
            ]
    if errors:
        raise ValidationFailed(_("The duplicate rule was not saved."), errors=errors)
    return rules.save(clean, entity, other, actor_id=actor_id)


def create_rule(entity_key: str, data: Mapping[str, Any], *, actor_id: int | None) -> DuplicateRule:
    """Create the duplicate rule ``data`` describes for ``entity_key``. Raises
    ``ValidationFailed`` (every problem, nothing written), ``Forbidden``, ``NotFound``."""
    with _unit():
        _actor(actor_id)
        entity = live_entity(entity_key)
        if entity is None:
            raise NotFound(_("There is no such kind of record."))
        row = _save(data, entity, new=True, actor_id=actor_id)
        top = db.session.scalar(
            select(func.max(DuplicateRule.position)).where(
                DuplicateRule.entity_key == entity.key, DuplicateRule.id != row.id
            )
        )
        row.position = int(top or 0) + 10
    return row


def update_rule(rule_id: int, data: Mapping[str, Any], *, actor_id: int | None) -> DuplicateRule:
    """Change duplicate rule ``rule_id`` to ``data`` (its key and entity never change).
    Nothing is logged when nothing changes. ``ValidationFailed``, ``NotFound``,
    ``Forbidden``."""
    with _unit() as unit:
        _actor(actor_id)
        row = _row(rule_id)
        entity = live_entity(row.entity_key)
        if entity is None:
            raise NotFound(_("Restore the entity before changing its duplicate rules."))
        wanted = {**data, "key": row.key}
        clean, errors, _other = problems(wanted, entity, new=False)
        if not errors:
            checked, _e = rules.check({**clean, "entity_key": entity.key})
            if checked is not None and rules.as_data(checked) == rules.as_data(rules.from_row(row)):
                unit.discard()
                return row
        row = _save(wanted, entity, new=False, actor_id=actor_id)
    return row


def _log(row: DuplicateRule, action: str, before: Any, after: Any, actor_id: int | None) -> None:
    log_change(
        version=bump_version(),
        actor_id=actor_id,
        entity_key=row.entity_key,
        action=action,
        before=before,
        after=after,
    )


def _rebuild(key: str, actor_id: int | None) -> None:
    from crm.jobs import outbox

    outbox.enqueue("dedupe.rebuild", {"rule": key}, user_id=actor_id)


def set_enabled(rule_id: int, enabled: bool, *, actor_id: int | None) -> DuplicateRule:
    """Turn duplicate rule ``rule_id`` on or off (nothing happens when it already is so);
    its keys are rebuilt (on) or dropped (off) by the background job."""
    with _unit() as unit:
        _actor(actor_id)
        row = _row(rule_id)
        if bool(row.enabled) == bool(enabled):
            unit.discard()
            return row
        row.enabled = bool(enabled)
        db.session.flush()
        action = "enable_duplicate_rule" if enabled else "disable_duplicate_rule"
        _log(row, action, {"key": row.key, "enabled": not enabled},
             {"key": row.key, "enabled": bool(enabled)}, actor_id)  # fmt: skip
        _rebuild(row.key, actor_id)
    return row


def delete_rule(rule_id: int, *, actor_id: int | None) -> None:
    """Delete duplicate rule ``rule_id``; its keys go in the background job."""
    with _unit():
        _actor(actor_id)
        row = _row(rule_id)
        _log(row, "delete_duplicate_rule", stored(row), None, actor_id)
        key = row.key
        db.session.execute(delete(DuplicateRule).where(DuplicateRule.id == row.id))
        _rebuild(key, actor_id)


def delete_by_key(key: str, *, actor_id: int | None) -> None:
    """Delete the duplicate rule ``key`` if there is one (packages)."""
    row = rule_by_key(key)
    if row is not None:
        delete_rule(row.id, actor_id=actor_id)


# -- the default rules ----------------------------------------------------------------------


def _first(entity: EntitySpec, *, keys: tuple[str, ...], holds: str | None = None) -> str | None:
    fields = [f for f in entity.active_fields if comparable(f)]
    for k in keys:
        for f in fields:
            if f.key == k:
                return f.key
    for f in fields:
        if holds is not None and types.get(f.type).holds == holds:
            return f.key
    return None


def defaults(entity: EntitySpec) -> dict[str, list[dict[str, Any]]]:
    """The default rules that suit ``entity``'s live fields, by kind (``person``,
    ``company``), those whose key is taken left out; a kind is absent when the entity lacks
    the fields it needs (a name and an e-mail or phone; a company name and a phone or
    website)."""
    out: dict[str, list[dict[str, Any]]] = {}
    names = {f.key for f in entity.active_fields if comparable(f)}
    email = _first(entity, keys=("email", "e_mail"), holds="email")
    phone = _first(entity, keys=("phone", "mobile", "telephone"), holds="phone")
    website = _first(entity, keys=("website", "web", "url", "domain"), holds="website")
    birth = _first(entity, keys=("birth_date", "date_of_birth", "birthday"))
    ident = _first(entity, keys=("id_number", "national_id", "passport", "passport_number"))
    person_name: Any = None
    if "full_name" in names:
        person_name = "full_name"
    elif {"first_name", "last_name"} <= names:
        person_name = ["first_name", "last_name"]
    if person_name and (email or phone):
        out[PERSON] = rules.person_rules(
            entity.key, name=person_name, email=email, phone=phone,
            birth_date=birth, id_number=ident,
        )  # fmt: skip
    company = next((k for k in ("company_name", "name") if k in names), None)
    if company and person_name is None and (phone or website):
        out[COMPANY] = rules.company_rules(entity.key, name=company, phone=phone, website=website)
    taken = set(db.session.scalars(select(DuplicateRule.key)))
    out = {kind: [d for d in found if d["key"] not in taken] for kind, found in out.items()}
    return {kind: found for kind, found in out.items() if found}


def add_defaults(entity_key: str, kind: str, *, actor_id: int | None) -> int:
    """Add the default ``kind`` rules (``person`` or ``company``) that suit entity
    ``entity_key`` and are not there yet, in one unit of work; how many were added.
    ``ValidationFailed`` when none suit."""
    with _unit():
        _actor(actor_id)
        entity = live_entity(entity_key)
        if entity is None:
            raise NotFound(_("There is no such kind of record."))
        found = defaults(entity).get(kind) if kind in (PERSON, COMPANY) else None
        if not found:
            raise ValidationFailed(
                _("Nothing was added."),
                errors={"defaults": [_("These default rules do not suit this kind of record.")]},
            )
        for data in found:
            _save(data, entity, new=True, actor_id=actor_id)
    return len(found)
