"""``covers``: the one comparison behind the no-escalation rule, as a pure function of
rights (the specs give the entities and fields it walks)."""

from __future__ import annotations

import pytest

from crm.access import policy as P
from crm.access.policy import Rights, RoleRights
from crm.access.rules import covers
from tests.factories import field, make_entity, text


@pytest.fixture
def deal(app):
    make_entity("deal", "Deal", [text("title", "Title"), field("margin", "percent", "Margin")])


def role(grants=None, fields=None, **flags) -> RoleRights:
    return RoleRights(1, "r", grants=grants or {}, fields=fields or {}, **flags)


def actor(*roles: RoleRights, department=(None, None), admin=False) -> Rights:
    return Rights(99, admin, department[0], department[1], roles)


def test_full_administrators_cover_everything(deal):
    assert covers(actor(admin=True), role({("*", "read"): P.ALL}, can_configure=True)) == []


def test_levels_are_compared_per_entity_and_action_with_the_star_default(deal):
    me = actor(role({("*", "read"): P.SUBTREE, ("deal", "edit"): P.OWN}))
    assert covers(me, role({("deal", "read"): P.SUBTREE, ("deal", "edit"): P.OWN})) == []
    problems = covers(me, role({("*", "edit"): P.OWN}))
    assert problems == ["Every other entity — more than you hold: Edit: Own records (yours: None)."]
    # An entity row of the actor does not cover "*": "*" also means entities made later.
    assert covers(me, role({("lead", "read"): P.ALL}))


def test_fields_count_only_where_the_target_may_read(deal):
    me = actor(role({("*", "read"): P.ALL}, {("deal", "margin"): P.HIDDEN}))
    assert covers(me, role({}, {})) == []  # reads nothing: its field rights do not matter
    problems = covers(me, role({("deal", "read"): P.OWN}))
    assert problems == ["Fields of Deals — more than you hold: Margin Editable (yours: Hidden)."]
    assert covers(me, role({("deal", "read"): P.OWN}, {("deal", "margin"): P.HIDDEN})) == []


def test_the_configuration_right_must_be_held(deal):
    assert covers(actor(), role(can_configure=True))
    assert covers(actor(role(can_configure=True)), role(can_configure=True)) == []


def test_a_full_administrator_is_never_covered_by_an_access_manager(deal):
    me = actor(role({("*", "read"): P.ALL}))
    assert covers(me, Rights(5, True, None, None)) != []


def test_department_scopes_must_stay_within_the_actors_reach(deal):
    lead = role({("*", "read"): P.DEPARTMENT})
    me = actor(role({("*", "read"): P.SUBTREE}), department=(2, "/1/2/"))
    assert covers(me, Rights(5, False, 3, "/1/2/3/", (lead,))) == []  # below me
    assert covers(me, Rights(5, False, 2, "/1/2/", (lead,))) == []  # my own
    assert covers(me, Rights(5, False, 4, "/1/4/", (lead,)))  # beside me
    assert covers(me, Rights(5, False, 1, "/1/", (lead,)))  # above me
    assert covers(me, Rights(5, False, None, None, (lead,))) == []  # no department: own only
    everywhere = actor(role({("*", "read"): P.ALL}))
    assert covers(everywhere, Rights(5, False, 1, "/1/", (lead,))) == []
    own_department = actor(role({("*", "read"): P.DEPARTMENT}), department=(2, "/1/2/"))
    assert covers(own_department, Rights(5, False, 2, "/1/2/", (lead,))) == []
    assert covers(own_department, Rights(5, False, 3, "/1/2/3/", (lead,)))
    nowhere = actor(role({("*", "read"): P.SUBTREE}))  # an actor without a department
    assert covers(nowhere, Rights(5, False, 3, "/1/2/3/", (lead,)))
