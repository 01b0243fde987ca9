"""Duplicate rules in configuration packages (``"duplicate_rules": {key: rule}``).

A rule is written as ``{"entity", "name", "translations"?, "disabled"?, "action"?
("block"; "warn" is the default), "entry"? ("create", "edit" or "none"; both is the
default), "compare_entity"?, "conditions": [{"field", "method", "threshold"?,
"other_field"?}]}``, defaults left out, so an export is deterministic. The schema checks
the shapes (methods, the similarity's range); ``problems`` checks each rule against the
entities it will meet (the package's own, or this installation's): an unknown or archived
field, another entity's rule with the same key. A problem refuses the whole plan. Rules are
written through ``crm.dedupe.admin`` only, inside the package's one unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.dedupe import admin as service
from crm.dedupe import rules as core
from crm.dedupe.models import WARN, DuplicateRule
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import specs as spec_cache

SECTION = "duplicate_rules"
_ENTRY = {(True, True): None, (True, False): "create", (False, True): "edit"}


def _portable(row: DuplicateRule) -> dict[str, Any]:
    out: dict[str, Any] = {"entity": row.entity_key, "name": row.name}
    names = (row.translations or {}).get("name") or {}
    if any(names.values()):
        out["translations"] = {"name": {k: v for k, v in sorted(names.items()) if v}}
    if not row.enabled:
        out["disabled"] = True
    if row.action != WARN:
        out["action"] = row.action
    entry = _ENTRY.get((bool(row.on_create), bool(row.on_edit)), "none")
    if entry:
        out["entry"] = entry
    if row.compare_entity_key:
        out["compare_entity"] = row.compare_entity_key
    out["conditions"] = [dict(c) for c in row.conditions or []]
    return out


def exported() -> dict[str, dict]:
    """Every duplicate rule by key, portable, defaults omitted. Reads only."""
    rows = db.session.scalars(select(DuplicateRule).order_by(DuplicateRule.key))
    return {row.key: _portable(row) for row in rows}


def as_data(key: str, rule: Mapping[str, Any]) -> dict[str, Any]:
    """A package's rule as the data ``crm.dedupe.admin`` takes."""
    entry = rule.get("entry")
    return {
        "key": key,
        "name": rule.get("name", ""),
        "translations": rule.get("translations") or {},
        "enabled": not rule.get("disabled"),
        "action": rule.get("action", WARN),
        "on_create": entry in (None, "create"),
        "on_edit": entry in (None, "edit"),
        "compare_entity_key": rule.get("compare_entity") or None,
        "conditions": list(rule.get("conditions") or []),
    }


class _Fields:
    """What ``rules.check`` reads of an entity: its live fields and its name."""

    def __init__(self, key: str, label: str, live: set[str]):
        self.key, self.label_singular, self._live = key, label, live

    def field(self, key: str) -> Any:
        return key if key in self._live else None


def _target_entities(package: Mapping[str, Any]) -> dict[str, _Fields]:
    """The entities a package's rules will meet: the package's own (its live fields as
    the package leaves them), else this installation's."""
    out: dict[str, _Fields] = {}
    for spec in spec_cache.raw().active_entities:
        live = {f.key for f in spec.active_fields if service.comparable(f)}
        out[spec.key] = _Fields(spec.key, spec.label_singular, live)
    for key, entity in (package.get("entities") or {}).items():
        if not isinstance(entity, Mapping):
            continue
        if entity.get("archived"):
            out.pop(key, None)
            continue
        live = set(out[key]._live) if key in out else set()
        for fkey, f in (entity.get("fields") or {}).items():
            if isinstance(f, Mapping) and f.get("archived"):
                live.discard(fkey)
            elif isinstance(f, Mapping):
                live.add(fkey)
        label = str(
            entity.get("label_singular") or (out[key].label_singular if key in out else key)
        )
        out[key] = _Fields(key, label, live)
    return out


def problems(package: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every problem of the package's duplicate rules, by JSON pointer
    (``/duplicate_rules/<key>``): an entity that will not exist, a field it will not have
    (or has archived), a compared entity that is the rule's own, a key another entity's
    rule holds here, anything ``rules.check`` refuses."""
    found = package.get(SECTION)
    if not isinstance(found, Mapping) or not found:
        return {}
    entities = _target_entities(package)
    taken = dict(db.session.execute(select(DuplicateRule.key, DuplicateRule.entity_key)).all())
    out: dict[str, list[str]] = {}
    for key, rule in sorted(found.items()):
        if not isinstance(rule, Mapping):
            continue
        path = f"/{SECTION}/{key}"
        messages: list[str] = []
        entity = entities.get(rule.get("entity"))
        compare = rule.get("compare_entity")
        other = entities.get(compare) if compare else None
        if entity is None:
            messages.append(
                _("There is no entity with the key “%(key)s”.", key=str(rule.get("entity"))[:41])
            )
        elif compare and (other is None or compare == entity.key):
            messages.append(_("Choose another kind of record to compare with."))
        elif taken.get(key, entity.key) != entity.key:
            messages.append(_("Another entity has a duplicate rule with this key."))
        else:
            _rule, errors = core.check(
                {**as_data(key, rule), "entity_key": entity.key}, entity, other
            )
            messages.extend(m for ms in errors.values() for m in ms)
        if messages:
            out[path] = [
                _("Duplicate rule “%(key)s”: %(problem)s", key=key, problem=m) for m in messages
            ]
    return out


def apply_rules(before: Mapping, target: Mapping, actor_id: int | None, kind: str) -> None:
    """Create, change or delete the duplicate rules whose package items differ (``before``
    and ``target``: the plan's items by JSON pointer). Raises ``ValidationFailed`` keyed
    by JSON pointer."""
    for path in sorted(set(before) | set(target)):
        if (target.get(path) or before.get(path))[0] != kind:
            continue
        key = path.rsplit("/", 1)[1]
        if path not in target:
            service.delete_by_key(key, actor_id=actor_id)
            continue
        value = target[path][2]
        if before.get(path, (None, None, None))[2] == value:
            continue
        data = as_data(key, value)
        row = service.rule_by_key(key)
        try:
            if row is None:
                service.create_rule(value.get("entity"), data, actor_id=actor_id)
            else:
                service.update_rule(row.id, data, actor_id=actor_id)
        except ValidationFailed as exc:
            raise ValidationFailed(
                exc.message,
                errors={f"{path}/{k.replace('.', '/')}": v for k, v in exc.errors.items()},
            ) from exc
