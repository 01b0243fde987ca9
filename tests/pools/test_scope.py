"""The pool scope of the access policy: a pool's records are readable by who sees the pool
(in lists and on the record page), never editable through it, and nothing for those
without the entity's read right."""

from __future__ import annotations

import pytest

from crm.access import policy as P
from crm.errors import Forbidden, NotFound
from crm.metadata import specs
from crm.pools import service
from crm.records import service as records
from tests.factories import make_role, make_user
from tests.pools.conftest import account, into_pool, make_pool


def spec():
    return specs.current().entity("account")


def test_pool_records_join_the_readers_list_but_not_their_edits(people, login_as):
    ann, bob = people["ann"], people["bob"]
    make_pool(people["admin"])
    rec = account(ann, "Pooled Ltd")
    account(ann, "Anns Own Ltd")
    into_pool(people["max"], [rec])
    body = login_as(bob).get("/r/account/").get_data(as_text=True)
    assert "Pooled Ltd" in body and "Anns Own Ltd" not in body
    row = records.get(bob, spec(), rec)
    assert P.allowed_on(bob, spec(), row, ("read", "edit", "delete")) == {"read"}
    assert P.can(bob, "read", spec(), rec) and not P.can(bob, "edit", spec(), rec)
    with pytest.raises(NotFound):
        records.get(bob, spec(), rec, action="edit")


def test_no_entity_right_no_pool(people, login_as):
    make_role("Nothing", {"read": P.NONE})
    nobody = make_user("nobody@example.com", roles=("Nothing",))
    make_pool(people["admin"])
    rec = account(people["ann"])
    into_pool(people["max"], [rec])
    with pytest.raises(NotFound):
        records.get(nobody, spec(), rec)
    with pytest.raises(Forbidden):
        P.require(nobody, "read", spec())
    assert login_as(nobody).get("/r/account/pools/east/").status_code == 403


def test_a_pool_seen_by_a_role_only(people, login_as):
    make_role("Scout", {"read": P.OWN})
    scout = make_user("scout@example.com", roles=("Scout",))
    from crm.access.models import Role
    from crm.extensions import db

    scout_role = db.session.query(Role).filter_by(name="Scout").one()
    make_pool(people["admin"], see_roles=[str(scout_role.id)])
    rec = account(people["ann"])
    into_pool(people["max"], [rec])
    records.get(scout, spec(), rec)
    with pytest.raises(NotFound):
        records.get(people["bob"], spec(), rec)
    assert login_as(people["bob"]).get("/r/account/pools/east/").status_code == 404
    assert login_as(scout).get("/r/account/pools/east/").status_code == 200
    service.claim(scout, spec(), rec)  # no claim audience: who sees it may claim
