"""Duplicate rules on entry: the live warning of a record form, and blocking on save.

- ``rules_of(entity_key)``: the enabled rules of an entity, read once per metadata version
  (a rule save bumps it), so a save of an entity without rules costs a dictionary lookup;
- ``watched(spec, creating=...)``: the fields whose change may make a record a duplicate
  (the form asks for a live check when one of them changes);
- ``warnings(...)``: what the live warning lists: per rule, the matching records the user
  may read (named, one query per target entity for all rules) and, for a blocking rule
  only, how many others match that they may not read;
- ``guard(...)``: called by the record service before it writes a create, an edit or a
  bulk edit: a blocking rule that finds a match refuses the save (``ValidationFailed``
  naming the match, or saying only that one exists when the user cannot read it).

Two saves of duplicates at the very same moment are not serialised: each checks against
the records committed before it (as a person typing would), like ``check_unique``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access import policy
from crm.dedupe import match
from crm.dedupe.models import DuplicateRule
from crm.dedupe.rules import Rule, from_row
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.i18n import pick, request_locale
from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec

_CACHE_KEY = ("dedupe", "rules by entity")
MAX_SHOWN = 5  # matches named per rule in the warning (the best ones)
MAX_NAMED = 3  # matches named in a refusal


def _all_rules() -> dict[str, tuple[Rule, ...]]:
    compiled = specs.raw()
    found = compiled.derived.get(_CACHE_KEY)
    if found is None:
        out: dict[str, list[Rule]] = {}
        rows = db.session.scalars(
            select(DuplicateRule)
            .where(DuplicateRule.enabled.is_(True))
            .order_by(DuplicateRule.position, DuplicateRule.id)
        )
        for row in rows:
            try:
                rule = from_row(row)
            except ValueError:
                continue  # a rule whose JSON no longer reads finds nothing until fixed
            out.setdefault(rule.entity_key, []).append(rule)
        found = {k: tuple(v) for k, v in out.items()}
        compiled.derived[_CACHE_KEY] = found
    return found


def rules_of(entity_key: str) -> tuple[Rule, ...]:
    """The enabled rules of ``entity_key`` in position order, read once per metadata
    version (no query after the first)."""
    return _all_rules().get(entity_key, ())


def _applies(rule: Rule, creating: bool) -> bool:
    return rule.on_create if creating else rule.on_edit


def watched(spec: EntitySpec, *, creating: bool, blocking: bool = False) -> frozenset[str]:
    """The field keys of ``spec`` that the enabled rules applying to a create
    (``creating``) or an edit read (``blocking``: of blocking rules only)."""
    out: set[str] = set()
    for rule in rules_of(spec.key):
        if _applies(rule, creating) and (rule.blocks or not blocking):
            out.update(match.rule_columns(rule, "this"))
    return frozenset(out)


def rule_name(rule: Rule) -> str:
    """The rule's name in the reader's language (its translation, else its name)."""
    names = (rule.translations or {}).get("name")
    return pick(rule.name, names if isinstance(names, Mapping) else None, request_locale())


def typed_values(spec: EntitySpec, raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` form values of ``spec``'s fields as stored values, parsed like a save
    (``FieldType.parse_input``); a value that does not parse (yet: it is being typed) is
    left out rather than refused."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        f = spec.field(key)
        if f is None:
            continue
        try:
            out[key] = types.get(f.type).parse_input(f, value)
        except (ValueError, TypeError):
            continue
    return out


@dataclass(frozen=True)
class Shown:
    """One matching record as the warning shows it."""

    record_id: int
    entity_key: str
    name: str
    score: float
    fields: tuple[str, ...]  # labels of the fields that matched


@dataclass(frozen=True)
class DuplicateWarning:
    """What one rule found: the readable matches (best first, at most ``MAX_SHOWN``),
    how many readable ones there are, and how many hidden ones (blocking rules only)."""

    rule: Rule
    name: str
    matches: tuple[Shown, ...]
    readable: int
    hidden: int

    @property
    def blocks(self) -> bool:
        return self.rule.blocks


def _found(
    user: Any,
    spec: EntitySpec,
    values: Mapping[str, Any],
    rules: Iterable[Rule],
    exclude_id: int | None,
) -> list[tuple[Rule, match.Found]]:
    region = match.default_region()
    out = []
    for rule in rules:
        found = match.candidates(user, spec, values, rule, exclude_id=exclude_id, region=region)
        if found.matches or found.hidden:
            out.append((rule, found))
    return out


def _names(user: Any, spec: EntitySpec, found: list[tuple[Rule, match.Found]], limit: int):
    """Display names of the matches to show, one query per target entity."""
    from crm.records.present import names_of

    wanted: dict[str, set[int]] = {}
    for rule, f in found:
        wanted.setdefault(rule.target_entity_key, set()).update(
            m.record_id for m in f.matches[:limit]
        )
    compiled = specs.current()
    out: dict[str, dict[int, str]] = {}
    for key, ids in wanted.items():
        target = spec if key == spec.key else compiled.entity(key)
        out[key] = names_of(user, target, ids) if target is not None and ids else {}
    return out


def warnings(
    user: Any,
    spec: EntitySpec,
    values: Mapping[str, Any],
    *,
    record: Mapping[str, Any] | None = None,
) -> list[DuplicateWarning]:
    """The live warning of a form of ``spec`` holding ``values`` (stored values; with
    ``record``, the record being edited: its other values count, itself does not), as
    ``user`` may see it. Empty when no rule applies or nothing matches."""
    creating = record is None
    rules = [r for r in rules_of(spec.key) if _applies(r, creating)]
    if not rules:
        return []
    full = dict(values) if record is None else {**record, **values}
    exclude = None if record is None else record["id"]
    found = _found(user, spec, full, rules, exclude)
    names = _names(user, spec, found, MAX_SHOWN)
    compiled = specs.current()
    labels_of: dict[str, dict[str, str]] = {}  # per target: the labels of fields they may read
    out = []
    for rule, f in found:
        key = rule.target_entity_key
        if key not in labels_of:
            target = spec if key == spec.key else compiled.entity(key)
            labels_of[key] = (
                {x.key: x.label for x in policy.visible_fields(user, target, "read")}
                if target is not None
                else {}
            )
        readable = labels_of[key]
        shown = []
        for m in f.matches[:MAX_SHOWN]:
            name = names.get(rule.target_entity_key, {}).get(m.record_id)
            if name is None:
                continue  # no longer readable between the two reads: not named
            labels: list[str] = []
            for reason in m.reasons:
                for field_key in reason.fields:
                    label = readable.get(field_key)
                    if label is not None and label not in labels:
                        labels.append(label)
            shown.append(Shown(m.record_id, rule.target_entity_key, name, m.score, tuple(labels)))
        out.append(DuplicateWarning(rule, rule_name(rule), tuple(shown), len(f.matches), f.hidden))
    return out


def _refusal(rule: Rule, names: list[str]) -> str:
    if names:
        return _(
            "Duplicate of %(records)s (rule: %(rule)s)",
            records=", ".join(names),
            rule=rule_name(rule),
        )
    return _(
        "A record you cannot see already matches this one (rule: %(rule)s)",
        rule=rule_name(rule),
    )


def refusals(
    user: Any,
    spec: EntitySpec,
    values: Mapping[str, Any],
    *,
    creating: bool,
    exclude_id: int | None = None,
    changed: Iterable[str] | None = None,
) -> dict[str, list[str]]:
    """The errors (by field key: the first field of the rule) of the blocking rules of
    ``spec`` applying to a create or an edit that find a match for a record holding
    ``values`` (all its values: for an edit, the record as it would be saved; ``changed``:
    the keys the edit changes, rules reading none of them are not asked). Reads only."""
    rules = [r for r in rules_of(spec.key) if r.blocks and _applies(r, creating)]
    if changed is not None:
        touched = set(changed)
        rules = [r for r in rules if touched & set(match.rule_columns(r, "this"))]
    if not rules:
        return {}
    found = _found(user, spec, values, rules, exclude_id)
    names = _names(user, spec, found, MAX_NAMED)
    errors: dict[str, list[str]] = {}
    for rule, f in found:
        known = names.get(rule.target_entity_key, {})
        named = [known[m.record_id] for m in f.matches[:MAX_NAMED] if m.record_id in known]
        where = match.rule_columns(rule, "this")[0]
        errors.setdefault(where, []).append(_refusal(rule, named))
    return errors


def guard(
    user: Any,
    spec: EntitySpec,
    values: Mapping[str, Any],
    *,
    creating: bool,
    exclude_id: int | None = None,
    changed: Iterable[str] | None = None,
) -> None:
    """``refusals`` as a ``ValidationFailed`` ("The record was not saved.") when there are
    any; nothing when the entity has no blocking rule (no query then)."""
    errors = refusals(user, spec, values, creating=creating, exclude_id=exclude_id, changed=changed)
    if errors:
        raise ValidationFailed(_("The record was not saved."), errors=errors)


__all__ = [
    "DuplicateWarning",
    "guard",
    "refusals",
    "rules_of",
    "typed_values",
    "warnings",
    "watched",
]
