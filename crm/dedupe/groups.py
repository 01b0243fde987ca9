"""Duplicate groups over all the records of an entity, for the duplicates page.

Built from the key table: the keys two or more records share (SQL ``GROUP BY``), then the
records of each key scored pair by pair in Python (``crm.dedupe.match.score_forms``) and
the matching pairs joined into groups. Nothing compares every record with every other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from sqlalchemy import func, select

from crm.dedupe.match import (
    blocking_condition,
    default_region,
    forms_of,
    rule_columns,
    score_forms,
)
from crm.dedupe.models import KEY_LENGTH, DedupeKey
from crm.dedupe.rules import Rule
from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.records.query import scoped, table_of

BLOCK_CAP = 200  # records in one key group scored at most (a key this common means little)
_BATCH = 500  # ids per IN list when reading records


@dataclass
class Group:
    """Records that are likely one and the same: ids, and the scored pairs that tie them."""

    record_ids: list[int]
    pairs: list[tuple[int, int, float]] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The best pair score in the group."""
        return max((s for _, _, s in self.pairs), default=0.0)


@dataclass
class Grouping:
    """``find_groups``' answer: the groups, best first, and the keys shared by more than
    ``BLOCK_CAP`` records, which were not scored (too common to mean anything)."""

    groups: list[Group]
    skipped_keys: int = 0


def _blocks(entity_key: str, rule_key: str) -> tuple[Any, int]:
    """(rows of (key, record_id) for the keys two to ``BLOCK_CAP`` records share, the
    number of keys shared by more). The count per key is a window over one range of the
    covering key index, in key order: one scan, whatever the planner knows of the table
    (a join of the ``GROUP BY`` back to the table ran nested loops on a fresh table)."""
    k = DedupeKey
    mine = (k.entity_key == entity_key, k.rule_key == rule_key)
    n = func.count().over(partition_by=k.key).label("n")
    counted = select(k.key, k.record_id, n).where(*mine).subquery()
    rows = db.session.execute(
        select(counted.c.key, counted.c.record_id).where(counted.c.n > 1, counted.c.n <= BLOCK_CAP)
    ).all()
    per_key = select(k.key).where(*mine).group_by(k.key).having(func.count() > BLOCK_CAP)
    skipped = db.session.scalar(select(func.count()).select_from(per_key.subquery()))
    return rows, int(skipped or 0)


def _rule_pairs(spec: EntitySpec, rule: Rule, user: Any, region: str, pairs: dict) -> int:
    """Score the records sharing a key under ``rule`` into ``pairs`` ({(a, b): score});
    returns the number of keys skipped for holding more than ``BLOCK_CAP`` records."""
    rows, skipped = _blocks(spec.key, rule.key)
    blocks: dict[str, list[int]] = {}
    # A non-fuzzy blocking condition's normal form is the key itself ("i:form"): read from
    # it rather than normalised again (phone parsing is most of the cost).
    at = blocking_condition(rule)
    reuse = rule.conditions[at].method != "fuzzy"
    known: dict[int, dict[int, str]] = {}
    for key, record_id in rows:
        blocks.setdefault(key, []).append(record_id)
        if reuse and len(key) < KEY_LENGTH:
            known[record_id] = {at: key.split(":", 1)[1]}
    ids = {i for ids in blocks.values() for i in ids}
    forms = _read_forms(spec, rule, ids, user, region, known)
    scored: set[tuple[int, int]] = set()
    for ids in blocks.values():
        for a, b in combinations(sorted(i for i in set(ids) if i in forms), 2):
            if (a, b) in scored:
                continue
            scored.add((a, b))
            found = score_forms(rule, forms[a], forms[b])
            if found is not None:
                pairs[(a, b)] = max(found[0], pairs.get((a, b), 0.0))
    return skipped


def find_groups(
    spec: EntitySpec,
    rule: Rule | Sequence[Rule],
    *,
    user: Any = None,
    region: str | None = None,
) -> Grouping:
    """Groups of ``spec``'s live records that ``rule`` (or any of several rules; rules of
    ``spec`` comparing it with itself) finds alike, from the key table: keys shared by two
    or more records (SQL ``GROUP BY``), the records of each key scored pair by pair,
    matching pairs joined into groups (A like B and B like C: one group). With ``user``,
    only records they may read (through the scoped query layer). Raises ``ValueError`` for
    a cross-entity rule."""
    wanted = [rule] if isinstance(rule, Rule) else list(rule)
    if any(r.compare_entity_key or r.entity_key != spec.key for r in wanted):
        raise ValueError("find_groups compares an entity's records with each other.")
    region = region or default_region()
    pairs: dict[tuple[int, int], float] = {}
    skipped = sum(_rule_pairs(spec, r, user, region, pairs) for r in wanted)
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[int, Group] = {}
    for (a, b), s in sorted(pairs.items()):
        groups.setdefault(root(a), Group([])).pairs.append((a, b, s))
    for g in groups.values():
        g.record_ids = sorted({i for a, b, _ in g.pairs for i in (a, b)})
    out = sorted(groups.values(), key=lambda g: (-g.score, g.record_ids))
    return Grouping(out, skipped)


def _read_forms(
    spec: EntitySpec, rule: Rule, ids: set, user: Any, region: str, known: dict
) -> dict:
    t = table_of(spec)
    cols = [t.c.id, *(t.c[f] for f in rule_columns(rule, "this"))]
    forms = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), _BATCH):
        chunk = ordered[start : start + _BATCH]
        if user is not None:
            query = scoped(user, spec, "read", columns=cols).where(t.c.id.in_(chunk))
        else:  # the background job over every record; a page filters by the reader
            query = select(*cols).where(t.c.id.in_(chunk), t.c.deleted_at.is_(None))
        for row in db.session.execute(query).mappings():
            forms[row["id"]] = forms_of(rule, row, "this", region, known.get(row["id"]))
    return forms
