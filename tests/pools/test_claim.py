"""Claiming from a pool: who may, the daily limit, the holding cap, the cool-down,
protected and owned records, and the timeline's words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.metadata import specs
from crm.pools import service
from crm.records import service as records
from crm.timeutil import utcnow
from tests.pools.conftest import account, freeze, into_pool, make_pool, owner_of, pool_spec


def spec():
    return specs.current().entity("account")


def test_return_then_claim_moves_the_owner_and_tells_the_timeline(people):
    ann, bob, max_ = people["ann"], people["bob"], people["max"]
    make_pool(people["admin"])
    rec = account(ann)
    assert into_pool(max_, [rec], note="Ann left the region") == 1
    assert owner_of(rec) is None
    # Bob (own records only) reads it through the pool, and claims it.
    assert records.get(bob, spec(), rec)["owner_id"] is None
    service.claim(bob, spec(), rec)
    assert owner_of(rec) == bob.id
    words = [e.body for e in records.timeline(bob, spec(), rec) if e.kind.startswith("pool_")]
    assert words[0] == "claimed this from East"
    assert words[1] == "put this in East: returned by hand — Ann left the region"


def test_a_pool_record_is_readable_only_by_who_sees_the_pool(people):
    ann, wes = people["ann"], people["wes"]
    make_pool(people["admin"], see_departments=[str(people["east"].id)])
    rec = account(ann)
    into_pool(people["max"], [rec])
    records.get(people["bob"], spec(), rec)  # East sees it
    with pytest.raises(NotFound):
        records.get(wes, spec(), rec)  # West does not
    with pytest.raises(NotFound):
        service.claim(wes, spec(), rec)


def test_claim_audience_and_owned_and_not_in_a_pool(people):
    ann, bob, wes = people["ann"], people["bob"], people["wes"]
    make_pool(people["admin"], claim_departments=[str(people["west"].id)])
    rec = account(ann)
    with pytest.raises(Conflict, match="has an owner"):
        service.claim(people["admin"], spec(), rec)
    into_pool(people["max"], [rec])
    with pytest.raises(Forbidden):
        service.claim(bob, spec(), rec)  # sees the pool, may not claim from it
    service.claim(wes, spec(), rec)
    assert owner_of(rec) == wes.id
    with pytest.raises(NotFound):  # owned by Wes now: Bob no longer reads it
        service.claim(bob, spec(), rec)


def test_daily_limit_counts_per_person_and_day(people, monkeypatch):
    ann, bob = people["ann"], people["bob"]
    make_pool(people["admin"], daily_limit="2")
    ids = [account(ann, f"A{i}") for i in range(4)]
    into_pool(people["max"], ids)
    pool = service.pool_specs.by_key("account", "east")
    assert service.remaining_today(bob, pool) == 2
    service.claim(bob, spec(), ids[0])
    service.claim(bob, spec(), ids[1])
    assert service.remaining_today(bob, pool) == 0
    with pytest.raises(Conflict, match="today"):
        service.claim(bob, spec(), ids[2])
    assert owner_of(ids[2]) is None  # nothing changed
    freeze(monkeypatch, utcnow() + timedelta(days=1))
    service.claim(bob, spec(), ids[2])  # a new day
    assert owner_of(ids[2]) == bob.id


def test_holding_cap_counts_every_owned_record(people):
    ann, bob = people["ann"], people["bob"]
    make_pool(people["admin"], holding_cap="2")
    account(bob, "Bob's own")
    ids = [account(ann, f"A{i}") for i in range(3)]
    into_pool(people["max"], ids)
    service.claim(bob, spec(), ids[0])  # now holds 2
    with pytest.raises(Conflict, match="hold 2 records"):
        service.claim(bob, spec(), ids[1])
    assert owner_of(ids[1]) is None


def test_cool_down_keeps_the_previous_owner_away(people, monkeypatch):
    ann, bob = people["ann"], people["bob"]
    make_pool(people["admin"], cooldown_days="7")
    rec = account(ann)
    into_pool(people["max"], [rec])
    with pytest.raises(Conflict, match="again from"):
        service.claim(ann, spec(), rec)
    freeze(monkeypatch, utcnow() + timedelta(days=8))
    service.claim(ann, spec(), rec)
    assert owner_of(rec) == ann.id
    assert bob  # Bob was never kept away


def test_protected_records_neither_return_nor_claim(people):
    ann = people["ann"]
    make_pool(people["admin"], protected_field="vip")
    rec = account(ann, vip="y")
    with pytest.raises(ValidationFailed, match="protected"):
        into_pool(people["max"], [rec])
    assert owner_of(rec) == ann.id


def test_manual_return_needs_assign_right_and_a_reason_and_is_all_or_nothing(people):
    ann, bob, wes = people["ann"], people["bob"], people["wes"]
    make_pool(people["admin"])
    a, w = account(ann), account(wes)
    with pytest.raises(NotFound):  # Max leads East: Wes's record is not his to return
        into_pool(people["max"], [a, w])
    assert owner_of(a) == ann.id
    with pytest.raises(ValidationFailed, match="why"):
        into_pool(people["max"], [a], note="  ")
    with pytest.raises(NotFound):
        into_pool(bob, [a])  # a rep cannot return a colleague's record
    for bad in (["0"], ["-1"], [str(2**31)], ["x"], ["١"]):
        with pytest.raises(ValidationFailed):
            into_pool(people["max"], bad)
    assert into_pool(ann, [a]) == 1  # her own: assign right on it


def test_hostile_claim_ids(people):
    make_pool(people["admin"])
    for bad in (0, -5, 2**31, "abc", "1e3"):
        with pytest.raises(ValidationFailed):
            service.claim(people["bob"], spec(), bad)


def test_pool_changes_reach_the_scope_at_once(people):
    """Disabling a pool bumps the metadata version: its records are no longer readable
    through it."""
    ann, bob = people["ann"], people["bob"]
    pool_id = make_pool(people["admin"])
    rec = account(ann)
    into_pool(people["max"], [rec])
    records.get(bob, spec(), rec)
    from crm.pools import config

    config.save(people["admin"], {"name": "East", "enabled": False}, pool_id)
    specs.forget_request_specs()
    assert pool_spec(pool_id).enabled is False
    with pytest.raises(NotFound):
        records.get(bob, spec(), rec)
