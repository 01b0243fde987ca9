"""The automation action "return to the customer pool": a rule puts a record back in its
pool with the rule's reason on the timeline, as the rule's owner (their "assign" right
applies); the rules service refuses a pool the entity does not have."""

from __future__ import annotations

import pytest

from crm.automation import rules
from crm.errors import ValidationFailed
from crm.metadata import specs
from crm.records import service as records
from tests.automation.factory import make_rule, runs
from tests.pools.conftest import account, make_pool, owner_of


def test_a_rule_returns_a_record_to_its_pool_with_its_reason(people):
    make_pool(people["admin"], "east")
    rule = make_rule(
        people["admin"], {"type": "changed", "field": "vip", "to": False},
        [{"type": "pool", "pool": "east", "reason": "No longer a VIP"}], entity="account",
    )  # fmt: skip
    rid = account(people["ann"], "Acme", vip=True)
    spec = specs.current().entity("account")
    row = records.get(people["ann"], spec, rid)
    records.update_record(people["ann"], spec, rid, {"vip": False}, expected_version=row["version"])
    (run,) = runs(rule)
    assert run.status == "done", run.error
    assert owner_of(rid) is None
    words = [e.body for e in records.timeline(people["admin"], spec, rid) if e.body]
    assert any("No longer a VIP" in w for w in words)


def test_a_rule_whose_owner_may_not_touch_the_record_changes_nothing(people):
    make_pool(people["admin"], "east")
    rule = make_rule(
        people["bob"], {"type": "created"},
        [{"type": "pool", "pool": "east", "reason": "Back"}], entity="account",
    )  # fmt: skip
    rid = account(people["ann"], "Acme")  # Bob may neither read nor assign Ann's accounts
    assert owner_of(rid) == people["ann"].id
    assert runs(rule) == []  # a rule never acts on a record its owner cannot read


def test_the_rules_service_wants_a_pool_of_the_entity_and_a_reason(people):
    make_pool(people["admin"], "east")
    base = {
        "key": "to_pool", "entity_key": "account", "name": "To the pool",
        "trigger": {"type": "created"}, "conditions": [],
    }  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        rules.create_rule({**base, "actions": [{"type": "pool", "pool": "west", "reason": ""}]},
                          actor_id=people["admin"].id)  # fmt: skip
    assert set(refused.value.errors) == {"actions.0.pool", "actions.0.reason"}
    row = rules.create_rule(
        {**base, "actions": [{"type": "pool", "pool": "", "reason": "Idle"}]},
        actor_id=people["admin"].id,
    )
    assert row.actions == [{"type": "pool", "pool": "east", "reason": "Idle"}]
