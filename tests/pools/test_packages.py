"""Customer pools in configuration packages: exported by key with roles by key and
departments by name, planned, applied atomically into another installation through the
pool configuration service, exported there byte for byte the same; bad pool data is
refused with the place named and nothing applied."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from crm.access.models import Role
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.packages import load as package_load
from crm.packages.apply import apply, plan_package
from crm.packages.describe import lines
from crm.packages.export import dumps, export_package
from crm.packages.plan import ADD, REMOVE
from crm.packages.problems import PackageInvalid
from crm.pools.models import Pool
from tests.factories import make_department, make_user
from tests.packages.test_clone import other_installation
from tests.pools.conftest import make_pool


def configure(people) -> dict:
    """Two pools of accounts: one limited to the Rep role and department East."""
    rep_id = db.session.scalar(select(Role.id).where(Role.key == "rep"))
    make_pool(
        people["admin"], "east", name="East pool", daily_limit="5", holding_cap="40",
        cooldown_days="7", no_activity_days="30", warn_days="3", protected_field="vip",
        claim_roles=[str(rep_id)], see_departments=[str(people["east"].id)],
        translations={"zh_Hans": "东区公海"},
    )  # fmt: skip
    make_pool(people["admin"], "spare", name="Spare", enabled=False)
    return export_package(name="acme", version="1")


def load(package: dict) -> dict:
    return package_load.load(dumps(package).encode(), existing=specs.raw().entities).data


def test_export_is_portable_and_deterministic(app, people):
    package = configure(people)
    assert dumps(package) == dumps(export_package(name="acme", version="1"))
    east = package["pools"]["east"]
    assert east == {
        "entity": "account",
        "name": "East pool",
        "translations": {"name": {"zh_Hans": "东区公海"}},
        "daily_limit": 5,
        "holding_cap": 40,
        "cooldown_days": 7,
        "no_activity_days": 30,
        "warn_days": 3,
        "protected_field": "vip",
        "claim_roles": ["rep"],
        "see_departments": ["East"],
    }
    assert package["pools"]["spare"] == {"entity": "account", "name": "Spare", "disabled": True}
    load(package)  # the schema and the semantics accept it


def test_round_trip_into_another_installation(app, people, databases, tmp_path):
    package = configure(people)
    first = dumps(package)
    with other_installation(databases, tmp_path):
        ops = make_user("ops@example.com", is_admin=True)
        east = make_department("East")
        p = plan_package(load(copy.deepcopy(package)))
        assert not p.problems
        assert {(s.item, s.action) for s in p.changes if s.kind == "pool"} == {
            ("/pools/east", ADD),
            ("/pools/spare", ADD),
        }
        assert any("customer pool" in line for line in lines(p))
        apply(p, actor_id=ops.id)
        row = db.session.scalar(select(Pool).where(Pool.key == "east"))
        assert row.see_departments == [east.id] and row.daily_limit == 5
        assert row.protected_field == "vip" and len(row.claim_roles) == 1
        assert dumps(export_package(name="acme", version="1")) == first
        again = plan_package(load(copy.deepcopy(package)))
        assert again.empty
        version = specs.read_version()
        apply(again, actor_id=ops.id)
        assert specs.read_version() == version


def test_an_unknown_department_is_a_plan_problem_and_nothing_is_applied(
    app, people, databases, tmp_path
):
    package = configure(people)
    with other_installation(databases, tmp_path):
        ops = make_user("ops@example.com", is_admin=True)
        p = plan_package(load(package))
        assert "East" in " ".join(p.problems["/pools/east/see_departments"])
        assert any("problem at /pools/east" in line for line in lines(p))
        version = specs.read_version()
        with pytest.raises(ValidationFailed) as refused:
            apply(p, actor_id=ops.id)
        assert "/pools/east" in refused.value.errors
        db.session.rollback()
        assert specs.read_version() == version
        assert db.session.scalar(select(Pool.id)) is None
        assert specs.current().entity("account") is None  # nothing at all


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda p: p.update(daily_limit=-1), "/pools/east/daily_limit"),
        (lambda p: p.update(holding_cap=10_001), "/pools/east/holding_cap"),
        (lambda p: p.update(see_roles=[7]), "/pools/east/see_roles/0"),
        (lambda p: p.update(colour="red"), "/pools/east/colour"),
        (lambda p: p.pop("name"), "/pools/east"),
    ],
)
def test_malformed_pools_are_refused_by_the_schema(app, people, edit, where):
    package = configure(people)
    edit(package["pools"]["east"])
    with pytest.raises(PackageInvalid) as refused:
        load(package)
    assert any(pr.pointer == where for pr in refused.value.problems), refused.value.problems


def test_a_pool_the_installation_refuses_is_named_and_nothing_is_applied(app, people):
    package = configure(people)
    bad = copy.deepcopy(package)
    bad["package"]["version"] = "2"
    bad["pools"]["east"]["protected_field"] = "name"  # not a checkbox
    bad["pools"]["fresh"] = {"entity": "account", "name": "Fresh", "daily_limit": 3}
    version = specs.read_version()
    with pytest.raises(ValidationFailed) as refused:
        apply(plan_package(load(bad)), actor_id=people["admin"].id)
    assert "/pools/east/protected_field" in refused.value.errors
    db.session.rollback()
    assert specs.read_version() == version
    assert db.session.scalar(select(Pool.id).where(Pool.key == "fresh")) is None
    moved = copy.deepcopy(package)
    moved["pools"]["east"]["entity"] = "nowhere"
    p = plan_package(load(moved))
    assert "/pools/east/entity" in p.problems


def test_a_pool_the_package_drops_is_removed_and_own_pools_stay(app, people):
    package = configure(people)
    apply(plan_package(load(package)), actor_id=people["admin"].id)  # recorded as the base
    make_pool(people["admin"], "own", name="Own")
    dropped = copy.deepcopy(package)
    del dropped["pools"]["spare"]
    dropped["package"]["version"] = "2"
    dropped["pools"]["east"]["daily_limit"] = 9
    p = plan_package(load(dropped))
    pool_steps = sorted((s.item, s.action) for s in p.changes if s.kind == "pool")
    assert pool_steps[-1] == ("/pools/spare", REMOVE)
    apply(p, actor_id=people["admin"].id)
    keys = set(db.session.scalars(select(Pool.key)))
    assert keys == {"east", "own"}
    assert db.session.scalar(select(Pool.daily_limit).where(Pool.key == "east")) == 9
