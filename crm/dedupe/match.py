"""Matching: blocking keys, the precise score, live candidates and duplicate groups.

Nothing here compares every record with every other. A record's *blocking keys* under a
rule (``keys_for``) are stored in ``dedupe_keys`` (``crm.dedupe.keys`` keeps them up to
date); two records can only match when they share a key, because the keys come from a
condition every match must pass (the first non-fuzzy one: the same normalised phone,
e-mail, company name ...; a rule of fuzzy conditions only is blocked on the first letters
of the words of its first condition). So a live check is one indexed lookup of the typed
record's keys, then ``score`` in Python on the few records found; and ``find_groups``
groups the keys with SQL ``GROUP BY`` and scores only the records inside each group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from itertools import combinations, permutations
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import select

from crm.dedupe import normalize
from crm.dedupe.models import KEY_LENGTH, DedupeKey
from crm.dedupe.rules import Condition, Rule
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.records.query import scoped, table_of

CANDIDATE_CAP = 500  # records one live check scores at most (a key this common is noise)

PHONE_REGION_SETTING = "phone_region"


def default_region() -> str:
    """The region of phone numbers typed without a country code: the company's
    ``phone_region`` setting, else its default language's (``normalize.region_for_locale``)."""
    from crm.i18n import company_locale

    region = specs.raw().settings.get(PHONE_REGION_SETTING)
    if isinstance(region, str) and len(region) == 2 and region.isalpha():
        return region.upper()
    return normalize.region_for_locale(company_locale())


@dataclass(frozen=True)
class Reason:
    """Why two records match on one condition: its fields, its method, and how similar
    the values are (1.0 for the exact methods)."""

    fields: tuple[str, ...]
    method: str
    similarity: float


@dataclass(frozen=True)
class Match:
    """A record of the rule's target entity that matches, with its score (0-1, the mean
    similarity of the conditions) and the reasons."""

    record_id: int
    score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Found:
    """A live check's answer: the matches the user may read, best first, and how many
    more match that they may not read (counted for blocking rules only, never named)."""

    matches: tuple[Match, ...]
    hidden: int = 0


# --- values and their normal forms ----------------------------------------------------------


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    s = str(value).strip()
    return s or None


def _joined(values: Mapping[str, Any], names: Iterable[str]) -> str | None:
    parts = [p for p in (_plain(values.get(n)) for n in names) if p]
    return " ".join(parts) or None


def normal_form(method: str, value: str | None, region: str | None) -> str | None:
    """``value`` in the normal form of ``method``; ``None`` when nothing is left."""
    if value is None:
        return None
    if method == "exact":
        out: str | None = value
    elif method == "phone":
        out = normalize.phone(value, region)
    elif method == "email":
        out = normalize.email(value)
    elif method == "company":
        out = normalize.company(value)
    elif method == "domain":
        out = normalize.domain(value)
    else:  # normalized, fuzzy
        out = normalize.text(value)
    return out or None


def similarity(a: str, b: str) -> float:
    """Fuzzy similarity of two normalised texts, 0-1 (rapidfuzz ``ratio``) in the word
    order that fits best, so "Smith John" and "John Smith" are 1.0, and a typo in a first
    letter does not move a word elsewhere (as sorting the words would). Texts of more
    than four words are compared with their words sorted."""
    words = b.split()
    if len(words) > 4 or len(a.split()) > 4:
        return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) / 100.0
    best = 0.0
    for order in set(permutations(words)):
        best = max(best, fuzz.ratio(a, " ".join(order)))
    return best / 100.0


def forms_of(
    rule: Rule,
    values: Mapping[str, Any],
    side: str,
    region: str | None,
    known: Mapping[int, str] | None = None,
) -> list:
    """The normal forms of ``values`` for each condition of ``rule`` read on ``side``
    (``known``: forms already at hand by condition index, e.g. read from a blocking key)."""
    known = known or {}
    return [
        known[i]
        if i in known
        else normal_form(c.method, _joined(values, c.fields_on(side)), region)
        for i, c in enumerate(rule.conditions)
    ]


def _compare(c: Condition, a: str | None, b: str | None) -> float | None:
    if a is None or b is None:
        return None
    if c.method == "fuzzy":
        s = similarity(a, b)
        return s if s >= c.threshold else None
    return 1.0 if a == b else None


def score(
    rule: Rule,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    a_side: str = "this",
    b_side: str | None = None,
    region: str | None = None,
) -> tuple[float, tuple[Reason, ...]] | None:
    """``(score, reasons)`` when records ``a`` and ``b`` (values by field key) match under
    every condition of ``rule``, else ``None``. ``b_side`` defaults to the rule's compared
    entity ("other") for a cross-entity rule. A blank never matches."""
    region = region or default_region()
    b_side = b_side or ("other" if rule.compare_entity_key else "this")
    return score_forms(rule, forms_of(rule, a, a_side, region), forms_of(rule, b, b_side, region))


def score_forms(rule: Rule, fa: list, fb: list) -> tuple[float, tuple[Reason, ...]] | None:
    """``score`` on normal forms already computed (``forms_of``)."""
    reasons = []
    for c, x, y in zip(rule.conditions, fa, fb, strict=True):
        s = _compare(c, x, y)
        if s is None:
            return None
        reasons.append(Reason(c.fields, c.method, round(s, 4)))
    return round(sum(r.similarity for r in reasons) / len(reasons), 4), tuple(reasons)


# --- blocking keys ----------------------------------------------------------------------------


MAX_KEY_WORDS = 6  # a long text keys on its first six distinct words in sorted order


def fuzzy_keys(form: str) -> set[str]:
    words = sorted(set(form.split()))[:MAX_KEY_WORDS]
    if len(words) == 1:
        w = words[0]
        return {w[:3], w[-3:]} if not normalize.is_cjk(w[0]) else {w[:2], w[-2:]}
    keys = set()
    for x, y in combinations(words, 2):
        keys.add(f"{min(x[:3], y[:3])}|{max(x[:3], y[:3])}")
        keys.add(f"{min(x[-3:], y[-3:])}~{max(x[-3:], y[-3:])}")
    return keys


def blocking_condition(rule: Rule) -> int:
    """The index of the condition a rule's keys come from: its first non-fuzzy one, else
    its first."""
    return next((i for i, c in enumerate(rule.conditions) if c.method != "fuzzy"), 0)


def keys_for(
    rule: Rule, values: Mapping[str, Any], *, side: str = "this", region: str | None = None
) -> set[str]:
    """The blocking keys of a record (values by field key, saved or not) under ``rule``:
    the normal form of the blocking condition's value (``blocking_condition``), or for a
    fuzzy one the first and last three letters of each pair of its words. Empty when that
    value is blank: such a record matches nothing under the rule."""
    i = blocking_condition(rule)
    c = rule.conditions[i]
    form = normal_form(c.method, _joined(values, c.fields_on(side)), region or default_region())
    if form is None:
        return set()
    found = fuzzy_keys(form) if c.method == "fuzzy" else {form}
    return {f"{i}:{k}"[:KEY_LENGTH] for k in found}


def rule_columns(rule: Rule, side: str) -> list[str]:
    """The field keys ``rule`` reads on ``side``."""
    out: list[str] = []
    for c in rule.conditions:
        out.extend(f for f in c.fields_on(side) if f not in out)
    return out


# --- live candidates ------------------------------------------------------------------------


def _with_keys(entity_key: str, rule_key: str, keys: set[str], exclude: int | None):
    """The sub-``SELECT`` of the ids of the records carrying one of ``keys`` (at most
    ``CANDIDATE_CAP`` rows of the covering key index; a repeat is harmless in ``IN``)."""
    k = DedupeKey
    query = (
        select(k.record_id)
        .where(k.entity_key == entity_key, k.rule_key == rule_key, k.key.in_(sorted(keys)))
        .limit(CANDIDATE_CAP)
    )
    if exclude is not None:
        query = query.where(k.record_id != exclude)
    return query


def candidates(
    user: Any,
    spec: EntitySpec,
    values: Mapping[str, Any],
    rule: Rule,
    *,
    exclude_id: int | None = None,
    region: str | None = None,
) -> Found:
    """The records of ``rule``'s target entity that a record of ``spec`` with ``values``
    (being typed, not saved; ``exclude_id``: the record being edited) would duplicate:
    those ``user`` may read, read through the scoped query layer, best first; and for a
    blocking rule, how many others match that ``user`` may not read (a count only: their
    values are scored and dropped, never returned). One statement (two for a blocking
    rule). Raises nothing of its own."""
    region = region or default_region()
    keys = keys_for(rule, values, side="this", region=region)
    if not keys:
        return Found(())
    target = (
        spec
        if rule.target_entity_key == spec.key
        else specs.current().entity(rule.target_entity_key)
    )
    if rule.target_entity_key != spec.key:
        exclude_id = None  # another entity's ids: the record itself is not among them
    side = "other" if rule.compare_entity_key else "this"
    if target is None or not all(target.field(f) for f in rule_columns(rule, side)):
        return Found(())  # a rule on an archived field finds nothing until it is fixed
    ids = _with_keys(target.key, rule.key, keys, exclude_id)
    mine = forms_of(rule, values, "this", region)
    t = table_of(target)
    cols = [t.c.id, *(t.c[f] for f in rule_columns(rule, side))]
    matches, seen = [], set()
    for row in db.session.execute(
        scoped(user, target, "read", columns=cols).where(t.c.id.in_(ids))
    ).mappings():
        seen.add(row["id"])
        found = score_forms(rule, mine, forms_of(rule, row, side, region))
        if found is not None:
            matches.append(Match(row["id"], found[0], found[1]))
    matches.sort(key=lambda m: (-m.score, m.record_id))
    hidden = 0
    if rule.blocks:
        # The only read outside the scoped layer: the rule fields of the candidates the
        # user could not read, to count the ones that match. Nothing of them leaves this
        # function but the count.
        query = select(*cols).where(t.c.id.in_(ids), t.c.deleted_at.is_(None))
        for row in db.session.execute(query).mappings():
            if row["id"] in seen:
                continue
            if score_forms(rule, mine, forms_of(rule, row, side, region)) is not None:
                hidden += 1
    return Found(tuple(matches), hidden)


def check(
    user: Any,
    spec: EntitySpec,
    values: Mapping[str, Any],
    *,
    creating: bool,
    exclude_id: int | None = None,
    region: str | None = None,
) -> list[tuple[Rule, Found]]:
    """``candidates`` under every enabled rule of ``spec`` that applies to a create
    (``creating``) or an edit, in rule order, for those that found something: what the
    form's live warning, the save's blocking check, import and the API all ask."""
    from crm.dedupe.entry import rules_of  # cached per metadata version

    region = region or default_region()
    out = []
    for rule in rules_of(spec.key):
        if not (rule.on_create if creating else rule.on_edit):
            continue
        found = candidates(user, spec, values, rule, exclude_id=exclude_id, region=region)
        if found.matches or found.hidden:
            out.append((rule, found))
    return out


def find_groups(spec: EntitySpec, rule: Any, **kwargs: Any) -> Any:
    """``crm.dedupe.groups.find_groups``: duplicate groups over all records."""
    from crm.dedupe import groups

    return groups.find_groups(spec, rule, **kwargs)
