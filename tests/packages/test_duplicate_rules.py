"""Duplicate rules in packages: export, the plan in words, the atomic apply, the round
trip, and a bad rule refused with nothing applied."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import func, select

from crm.dedupe import admin as dedupe
from crm.dedupe.models import DuplicateRule
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata.models import MetaVersion
from crm.packages.apply import apply, plan_package
from crm.packages.describe import lines
from crm.packages.export import dumps, export_package
from crm.packages.load import load
from crm.packages.problems import PackageInvalid
from crm.schema import service as schema
from tests.factories import make_user


def package(rules: dict | None = None, version: str = "1.0.0") -> dict:
    return {
        "format": "atelier.package",
        "format_version": 1,
        "package": {"name": "dup-test", "version": version},
        "entities": {
            "account": {
                "label_singular": "Account",
                "label_plural": "Accounts",
                "name_field": "name",
                "fields": {
                    "name": {"type": "text", "label": "Name", "position": 10},
                    "phone": {"type": "phone", "label": "Phone", "position": 20},
                    "website": {"type": "url", "label": "Website", "position": 30},
                },
            }
        },
        "duplicate_rules": rules
        if rules is not None
        else {
            "account_name_phone": {
                "entity": "account",
                "name": "Same company: same name and phone",
                "translations": {"name": {"es": "Misma empresa", "zh_Hans": "同一公司"}},
                "action": "block",
                "conditions": [
                    {"field": "name", "method": "company"},
                    {"field": "phone", "method": "phone"},
                ],
            },
            "account_similar": {
                "entity": "account",
                "name": "Similar name",
                "entry": "create",
                "disabled": True,
                "conditions": [{"field": "name", "method": "fuzzy", "threshold": 0.9}],
            },
        },
    }


def loaded(data: dict):
    return load(json.dumps(data).encode(), filename="p.json").data


def count() -> int:
    return int(db.session.scalar(select(func.count()).select_from(DuplicateRule)) or 0)


def version() -> int:
    return int(db.session.scalar(select(MetaVersion.version)))


@pytest.fixture
def admin(app):
    return make_user("admin@example.com", is_admin=True)


def test_apply_writes_the_rules_and_the_plan_names_them(admin):
    p = plan_package(loaded(package()))
    text = " ".join(lines(p))
    assert "duplicate rule" in text and "account_name_phone" in text
    apply(p, actor_id=admin.id)
    db.session.expire_all()
    row = dedupe.rule_by_key("account_name_phone")
    assert row.action == "block" and row.on_create and row.on_edit and row.enabled
    assert row.translations == {"name": {"es": "Misma empresa", "zh_Hans": "同一公司"}}
    other = dedupe.rule_by_key("account_similar")
    assert other.on_create and not other.on_edit and not other.enabled
    assert other.conditions == [{"field": "name", "method": "fuzzy", "threshold": 0.9}]
    # applying again changes nothing
    assert plan_package(loaded(package())).empty


def test_round_trip_export_is_the_package(admin):
    apply(plan_package(loaded(package())), actor_id=admin.id)
    out = export_package(name="dup-test", version="1.0.0")
    assert out["duplicate_rules"] == package()["duplicate_rules"]
    assert dumps(out) == dumps(export_package(name="dup-test", version="1.0.0"))
    # the export, loaded back, plans nothing
    assert plan_package(loaded(json.loads(dumps(out)))).empty


def test_a_changed_and_a_removed_rule(admin):
    apply(plan_package(loaded(package())), actor_id=admin.id)
    v2 = package(version="2.0.0")
    del v2["duplicate_rules"]["account_similar"]
    v2["duplicate_rules"]["account_name_phone"]["action"] = "warn"
    p = plan_package(loaded(v2))
    assert not p.empty
    apply(p, actor_id=admin.id)
    db.session.expire_all()
    assert dedupe.rule_by_key("account_similar") is None
    assert dedupe.rule_by_key("account_name_phone").action == "warn"


@pytest.mark.parametrize(
    "condition, where",
    [
        ({"field": "name", "method": "soundex"}, "method"),
        ({"field": "name", "method": "fuzzy", "threshold": 1.5}, "threshold"),
        ({"field": "name", "method": "fuzzy", "threshold": 0.2}, "threshold"),
        ({"field": "Bad Key", "method": "exact"}, "field"),
    ],
)
def test_bad_shapes_are_refused_at_load(app, condition, where):
    bad = package({"r1": {"entity": "account", "name": "R", "conditions": [condition]}})
    with pytest.raises(PackageInvalid) as exc:
        loaded(bad)
    assert any(k.startswith("/duplicate_rules/r1") for k in exc.value.errors)


def test_an_unknown_field_refuses_the_whole_package(admin):
    before = version()
    bad = package()
    bad["duplicate_rules"]["account_name_phone"]["conditions"][1]["field"] = "fax"
    p = plan_package(loaded(bad))
    assert "/duplicate_rules/account_name_phone" in p.problems
    message = " ".join(p.problems["/duplicate_rules/account_name_phone"])
    assert "fax" in message and "account_name_phone" in message
    with pytest.raises(ValidationFailed):
        apply(p, actor_id=admin.id)
    db.session.rollback()
    assert count() == 0 and version() == before
    assert db.session.scalar(select(func.count()).select_from(MetaVersion)) == 1


def test_a_rule_on_a_field_the_package_archives_is_refused(admin):
    bad = package()
    bad["entities"]["account"]["fields"]["phone"]["archived"] = True
    p = plan_package(loaded(bad))
    assert "/duplicate_rules/account_name_phone" in p.problems
    assert "archived" in " ".join(p.problems["/duplicate_rules/account_name_phone"])


def test_unknown_entity_and_taken_key(admin):
    schema.create_entity(
        "contact", "Contact", fields=[{"key": "full_name", "type": "text", "label": "Name"}]
    )
    dedupe.create_rule(
        "contact",
        {"key": "account_name_phone", "name": "X",
         "conditions": [{"field": "full_name", "method": "normalized"}]},
        actor_id=admin.id,
    )  # fmt: skip
    bad = package()
    bad["duplicate_rules"]["account_similar"]["entity"] = "nosuch"
    p = plan_package(loaded(bad))
    assert "/duplicate_rules/account_similar" in p.problems
    assert "Another entity" in " ".join(p.problems["/duplicate_rules/account_name_phone"])


def test_a_failure_later_in_apply_rolls_the_rules_back(app, admin):
    before = version()
    calls = []

    def boom(step):
        calls.append(step)
        if step == "package_after_seed":
            raise RuntimeError("injected")

    app.config["SCHEMA_CHECKPOINT"] = boom
    try:
        with pytest.raises(RuntimeError):
            apply(plan_package(loaded(copy.deepcopy(package()))), actor_id=admin.id)
    finally:
        app.config.pop("SCHEMA_CHECKPOINT")
    db.session.rollback()
    assert count() == 0 and version() == before


@pytest.mark.parametrize(
    "key, entity", [("b2b-sales", "account"), ("after-sales-service", "customer")]
)
def test_starters_carry_the_default_company_rules(admin, key, entity):
    from crm.packages import starters

    starters.install(key, admin)
    db.session.expire_all()
    found = {r.key: r for r in dedupe.all_rules(entity)}
    assert set(found) == {f"{entity}_name_phone", f"{entity}_name_website"}
    assert (
        found[f"{entity}_name_phone"].translations["name"]["zh_Hans"]
        == "同一公司：名称相同且电话相同"
    )
