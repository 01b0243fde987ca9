"""Automation rules in configuration packages: exported by key with people by e-mail and
no webhook secret, planned, applied into an empty company through the rules service, and
exported there byte for byte the same; re-applying changes nothing."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from crm.access.models import Role
from crm.automation import rules
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.packages import load as package_load
from crm.packages.apply import apply, plan_package
from crm.packages.describe import lines
from crm.packages.export import dumps, export_package
from crm.packages.plan import ADD, REMOVE
from tests.automation.test_rules_service import good
from tests.factories import make_department, make_role, make_user
from tests.packages.test_clone import other_installation
from tests.pipelines.factories import make_deal_entity


def configure(admin) -> dict:
    """Installation A: a deal entity with two rules naming a person, a department and a
    role, one calling a webhook; returns the exported package."""
    make_deal_entity()
    fin = make_user("fin@example.com", display_name="Fin")
    dept = make_department("Finance")
    role = make_role("Finance team")
    rules.create_rule(
        good(
            actions=[
                {
                    "type": "notify",
                    "to": [{"user": fin.id}, {"department": dept.id}, {"role": role.id}, "owner"],
                    "title": "Won {{ record.title }}",
                },
                {"type": "task", "subject": "Invoice", "assignee": {"user": fin.id}},
                {"type": "webhook", "url": "https://hooks.example.com/won", "secret": "s3cret"},
            ]
        ),
        actor_id=admin.id,
    )
    rules.create_rule(
        good(
            key="stale",
            name="Stale",
            enabled=False,
            trigger={"type": "held", "what": "no_activity", "days": 30},
        ),
        actor_id=admin.id,
    )
    return export_package(name="acme", version="1")


def load(package: dict) -> dict:
    data = dumps(package).encode()
    return package_load.load(data, existing=specs.raw().entities).data


def test_export_is_portable_and_deterministic(app, admin):
    package = configure(admin)
    text = dumps(package)
    assert text == dumps(export_package(name="acme", version="1"))
    assert "s3cret" not in text
    rule = package["rules"]["won_notify"]
    assert rule["actions"][0]["to"] == [
        {"user": "fin@example.com"},
        {"department": "Finance"},
        {"role": "finance_team"},
        "owner",
    ]
    assert rule["actions"][1]["assignee"] == {"user": "fin@example.com"}
    assert package["rules"]["stale"]["disabled"] is True
    assert "disabled" not in rule
    load(package)  # the schema and the semantics accept it


def test_round_trip_into_an_empty_company(app, admin, databases, tmp_path):
    package = configure(admin)
    first = dumps(package)
    with other_installation(databases, tmp_path):
        ops = make_user("ops@example.com", is_admin=True)
        make_user("fin@example.com", display_name="Fin B")
        make_department("Finance")
        data = load(copy.deepcopy(package))
        p = plan_package(data)
        assert not p.problems
        assert any("webhook" in n for n in p.notes)
        assert any(s.kind == "rule" and s.action == ADD for s in p.changes)
        assert any("note:" in line for line in lines(p))
        apply(p, actor_id=ops.id)
        row = rules.rule_by_key("won_notify")
        fin_b = db.session.scalar(select(Role.id).where(Role.key == "finance_team"))
        assert {"role": fin_b} in row.actions[0]["to"]
        assert row.owner_id == ops.id and row.actions[2]["secret"] == ""
        assert dumps(export_package(name="acme", version="1")) == first
        # re-applying changes nothing
        again = plan_package(load(copy.deepcopy(package)))
        assert again.empty
        version = specs.read_version()
        apply(again, actor_id=ops.id)
        assert specs.read_version() == version


def test_an_unknown_person_is_a_plan_problem_and_nothing_is_applied(
    app, admin, databases, tmp_path
):
    package = configure(admin)
    with other_installation(databases, tmp_path):
        ops = make_user("ops@example.com", is_admin=True)
        p = plan_package(load(package))
        assert "fin@example.com" in " ".join(p.problems["/rules/won_notify"])
        assert any("problem at /rules/won_notify" in line for line in lines(p))
        version = specs.read_version()
        with pytest.raises(ValidationFailed) as refused:
            apply(p, actor_id=ops.id)
        assert "/rules/won_notify" in refused.value.errors
        db.session.rollback()
        assert specs.read_version() == version and rules.rule_by_key("won_notify") is None


def test_a_rule_the_package_drops_is_removed_and_own_rules_stay(app, admin):
    package = configure(admin)
    # the package as applied here: provenance records it as the base
    apply(plan_package(load(package)), actor_id=admin.id)
    rules.create_rule(good(key="own_rule", trigger={"type": "created"}), actor_id=admin.id)
    dropped = copy.deepcopy(package)
    del dropped["rules"]["stale"]
    dropped["package"]["version"] = "2"
    p = plan_package(load(dropped))
    assert [(s.item, s.action) for s in p.changes if s.kind == "rule"] == [("/rules/stale", REMOVE)]
    apply(p, actor_id=admin.id)
    assert rules.rule_by_key("stale") is None
    assert rules.rule_by_key("own_rule") is not None
    assert rules.rule_by_key("won_notify").actions[2]["secret"] == "s3cret"  # kept
