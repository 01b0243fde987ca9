"""Duplicate checks of many new records at once: the rows of an import batch.

``BatchMatcher`` holds the enabled rules of an entity that apply on create. For a batch of
rows (values by field key) it computes each row's normal forms and blocking keys in
Python (``prepare``), looks all the batch's keys up in ``dedupe_keys`` with one query per
target entity, reads the candidates' rule fields with one more, learns which of them the
user may read with one scoped query, and scores them in Python (``existing``). Rows of the
same file are compared with the rows kept before them (``earlier`` / ``remember``), in
memory, by the same keys: no query per row.

Candidates the user may not read are scored like the others (they are duplicates all the
same) and flagged ``visible=False``: callers never name them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from crm.dedupe.match import (
    CANDIDATE_CAP,
    blocking_condition,
    default_region,
    forms_of,
    fuzzy_keys,
    rule_columns,
    score_forms,
)
from crm.dedupe.models import KEY_LENGTH, DedupeKey
from crm.dedupe.rules import Rule, enabled_rules
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.records.query import scoped, table_of

KEYS_PER_QUERY = 5000  # keys in one IN (...): a batch's keys fit in one query


@dataclass(frozen=True)
class Hit:
    """One duplicate of a row: an existing record (``record_id``, of ``entity_key``) or an
    earlier row of the same file (``line``), under ``rule``, with its ``score``;
    ``visible``: whether the user may read the record; ``name``: its name (visible only)."""

    rule: Rule
    score: float
    entity_key: str
    record_id: int | None = None
    line: int | None = None
    visible: bool = True
    name: str | None = None

    @property
    def target(self) -> tuple:
        """What the hit points at: ("record", entity, id) or ("line", n)."""
        if self.record_id is not None:
            return ("record", self.entity_key, self.record_id)
        return ("line", self.line)


@dataclass
class Prepared:
    """A row's normal forms and blocking keys under each rule (by rule key)."""

    values: Mapping[str, Any]
    forms: dict[str, list] = field(default_factory=dict)
    keys: dict[str, set[str]] = field(default_factory=dict)


def keys_from_forms(rule: Rule, forms: Sequence[Any]) -> set[str]:
    """``match.keys_for`` from the normal forms already computed (``forms_of``): the same
    keys, without normalising the blocking value a second time."""
    i = blocking_condition(rule)
    form = forms[i]
    if form is None:
        return set()
    found = fuzzy_keys(form) if rule.conditions[i].method == "fuzzy" else {form}
    return {f"{i}:{k}"[:KEY_LENGTH] for k in found}


def best_of(hits: Sequence[Hit]) -> tuple[Hit | None, bool]:
    """``(the best hit, ambiguous)``: the hit with the highest score, and whether another
    record or line scores as high (then there is no one best match)."""
    if not hits:
        return None, False
    top = max(h.score for h in hits)
    tops = {h.target for h in hits if h.score == top}
    best = min((h for h in hits if h.score == top), key=lambda h: (not h.visible, h.target))
    return best, len(tops) > 1


class BatchMatcher:
    """The duplicate check of new rows of ``spec`` for ``user`` (see the module)."""

    def __init__(
        self,
        user: Any,
        spec: EntitySpec,
        *,
        rules: Sequence[Rule] | None = None,
        region: str | None = None,
    ) -> None:
        self.user, self.spec = user, spec
        self.region = region or default_region()
        wanted = enabled_rules(spec.key) if rules is None else list(rules)
        self.rules: list[Rule] = []
        for rule in wanted:
            if not rule.on_create:
                continue
            target = self._target(rule)
            side = "other" if rule.compare_entity_key else "this"
            if target is None or not all(target.field(f) for f in rule_columns(rule, side)):
                continue  # a rule on an archived field finds nothing until it is fixed
            if not all(spec.field(f) for f in rule_columns(rule, "this")):
                continue
            self.rules.append(rule)
        # in-file index: rule key -> blocking key -> [(line, forms)]
        self._earlier: dict[str, dict[str, list[tuple[int, list]]]] = {}

    def __bool__(self) -> bool:
        return bool(self.rules)

    def _target(self, rule: Rule) -> EntitySpec | None:
        if rule.target_entity_key == self.spec.key:
            return self.spec
        return specs.current().entity(rule.target_entity_key)

    def prepare(self, values: Mapping[str, Any]) -> Prepared:
        """The row's forms and keys under every rule (pure Python)."""
        p = Prepared(values)
        for rule in self.rules:
            p.forms[rule.key] = forms = forms_of(rule, values, "this", self.region)
            p.keys[rule.key] = keys_from_forms(rule, forms)
        return p

    def key_rows(self, pairs: Sequence[tuple[int, Prepared]]) -> list[dict[str, Any]]:
        """``dedupe_keys`` rows of new records of ``spec`` (record id, its prepared row)
        under this matcher's rules: what ``keys.refresh`` would write for them when these
        are all the rules that key ``spec`` and the rows hold every field they read."""
        out = []
        for rid, p in pairs:
            for rule_key, keys in p.keys.items():
                for key in keys:
                    out.append(
                        {"entity_key": self.spec.key, "record_id": rid, "rule_key": rule_key,
                         "key": key}
                    )  # fmt: skip
        return out

    def keys_all(self, rules: Sequence[Rule], mapped: set[str]) -> bool:
        """Whether this matcher's rules are exactly ``rules`` (those keying ``spec``'s
        records: ``keys.refresh``'s), all read on the rule's own side, from ``mapped``
        fields only (then ``key_rows`` writes what ``refresh`` would)."""
        mine = {r.key for r in self.rules}
        return (
            {r.key for r in rules} == mine
            and all(r.entity_key == self.spec.key for r in rules)
            and all(set(rule_columns(r, "this")) <= mapped for r in rules)
        )

    def existing(self, rows: Sequence[Prepared]) -> list[list[Hit]]:
        """Per row, its duplicates among the live records, best first: one key query, one
        record query and one scoped query per target entity for the whole batch."""
        out: list[list[Hit]] = [[] for _ in rows]
        by_target: dict[str, list[Rule]] = {}
        for rule in self.rules:
            by_target.setdefault(rule.target_entity_key, []).append(rule)
        for target_key, rules in by_target.items():
            target = self._target(rules[0])
            if target is None:
                continue
            found = self._lookup(target_key, rules, rows)
            ids = {rid for per_key in found.values() for rid in per_key}
            if not ids:
                continue
            records, visible = self._records(target, rules, ids)
            record_forms: dict[tuple[str, int], list] = {}
            for n, p in enumerate(rows):
                for rule in rules:
                    candidates: set[int] = set()
                    for key in p.keys.get(rule.key, ()):
                        candidates.update(found.get((rule.key, key), ()))
                    for rid in sorted(candidates):
                        row = records.get(rid)
                        if row is None:
                            continue
                        side = "other" if rule.compare_entity_key else "this"
                        forms = record_forms.get((rule.key, rid))
                        if forms is None:
                            forms = forms_of(rule, row, side, self.region)
                            record_forms[(rule.key, rid)] = forms
                        scored = score_forms(rule, p.forms[rule.key], forms)
                        if scored is None:
                            continue
                        seen = rid in visible
                        name = row.get(target.name_field) if seen and target.name_field else None
                        out[n].append(
                            Hit(rule, scored[0], target_key, record_id=rid, visible=seen,
                                name=None if name is None else str(name))
                        )  # fmt: skip
        for hits in out:
            hits.sort(key=lambda h: (-h.score, not h.visible, h.target))
        return out

    def _lookup(
        self, target_key: str, rules: Sequence[Rule], rows: Sequence[Prepared]
    ) -> dict[tuple[str, str], list[int]]:
        """(rule key, key) -> record ids carrying it, for every key of the batch's rows."""
        wanted = sorted({k for p in rows for r in rules for k in p.keys.get(r.key, ())})
        out: dict[tuple[str, str], list[int]] = {}
        k = DedupeKey
        for start in range(0, len(wanted), KEYS_PER_QUERY):
            chunk = wanted[start : start + KEYS_PER_QUERY]
            query = select(k.rule_key, k.key, k.record_id).where(
                k.entity_key == target_key,
                k.rule_key.in_([r.key for r in rules]),
                k.key.in_(chunk),
            )
            for rule_key, key, rid in db.session.execute(query):
                ids = out.setdefault((rule_key, key), [])
                if len(ids) < CANDIDATE_CAP:  # a key this common is noise
                    ids.append(int(rid))
        return out

    def _records(
        self, target: EntitySpec, rules: Sequence[Rule], ids: set[int]
    ) -> tuple[dict[int, dict], set[int]]:
        """The live candidates' rule fields (and name) by id, and the ids ``user`` may
        read. The first read is outside the scoped layer, like ``match.candidates``' count
        of hidden matches: nothing of a hidden record leaves this module but a flag."""
        t = table_of(target)
        names: list[str] = []
        for rule in rules:
            side = "other" if rule.compare_entity_key else "this"
            names.extend(f for f in rule_columns(rule, side) if f not in names)
        if target.name_field and target.name_field not in names and target.field(target.name_field):
            names.append(target.name_field)
        cols = [t.c.id, *(t.c[f] for f in names)]
        records: dict[int, dict] = {}
        visible: set[int] = set()
        ordered = sorted(ids)
        for start in range(0, len(ordered), KEYS_PER_QUERY):
            chunk = ordered[start : start + KEYS_PER_QUERY]
            query = select(*cols).where(t.c.id.in_(chunk), t.c.deleted_at.is_(None))
            for row in db.session.execute(query).mappings():
                records[row["id"]] = dict(row)
            readable = scoped(self.user, target, "read", columns=[t.c.id]).where(t.c.id.in_(chunk))
            visible.update(r[0] for r in db.session.execute(readable))
        return records, visible

    def earlier(self, p: Prepared) -> list[Hit]:
        """The rows remembered before (``remember``) that ``p`` duplicates, best first.
        Only same-entity rules compare rows of one file with each other."""
        out: list[Hit] = []
        for rule in self.rules:
            if rule.compare_entity_key:
                continue
            index = self._earlier.get(rule.key)
            if not index:
                continue
            seen: set[int] = set()
            for key in p.keys.get(rule.key, ()):
                for line, forms in index.get(key, ()):
                    if line in seen:
                        continue
                    seen.add(line)
                    scored = score_forms(rule, p.forms[rule.key], forms)
                    if scored is not None:
                        out.append(Hit(rule, scored[0], self.spec.key, line=line))
        out.sort(key=lambda h: (-h.score, h.target))
        return out

    def remember(self, line: int, p: Prepared) -> None:
        """Keep ``p`` (the row of ``line``, kept as a new record) for ``earlier``."""
        for rule in self.rules:
            if rule.compare_entity_key:
                continue
            index = self._earlier.setdefault(rule.key, {})
            for key in p.keys.get(rule.key, ()):
                index.setdefault(key, []).append((line, p.forms[rule.key]))

    def forget(self) -> None:
        """Drop the remembered rows (their records' keys are in ``dedupe_keys`` now)."""
        self._earlier = {}


__all__ = ["BatchMatcher", "Hit", "Prepared", "best_of"]
