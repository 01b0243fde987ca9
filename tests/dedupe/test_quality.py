"""Precision and recall of the default person rules on a generated set of people with
known duplicates (``tests/dedupe/people.py``: typos, swapped names, blanks, other phone
formats, colleagues sharing a phone), through the real key table and ``find_groups``."""

from __future__ import annotations

from crm.dedupe import match, rules
from crm.metadata import specs
from tests.dedupe.conftest import save_rules
from tests.dedupe.people import generate, true_pairs
from tests.factories import insert_rows


def found_pairs(spec) -> set[tuple[int, int]]:
    pairs = set()
    # what a duplicates page lists: groups joined across the entity's rules
    for group in match.find_groups(spec, rules.enabled_rules(spec.key)).groups:
        ids = group.record_ids
        pairs.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    return pairs


def test_default_person_rules_find_generated_duplicates(crm):
    people = generate(400, seed=18)
    ids = insert_rows(
        "contact",
        *({"full_name": p.full_name, "email": p.email, "phone": p.phone} for p in people),
    )
    save_rules(*rules.person_rules("contact"))
    truth = true_pairs(list(zip(ids, people, strict=True)))
    found = found_pairs(specs.current().entity("contact"))
    hits = len(found & truth)
    precision, recall = hits / len(found), hits / len(truth)
    assert len(truth) > 100
    assert precision >= 0.95, (precision, sorted(found - truth)[:5])
    assert recall >= 0.90, (recall, sorted(truth - found)[:5])
