"""Applying packages: atomic through the schema service, re-appliable, merge-aware."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from crm.errors import Conflict, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.models import LayoutRow
from crm.packages import provenance
from crm.packages.apply import STEPS, apply, plan_package
from crm.packages.models import PackageItem
from crm.pipelines.models import PipelineRow, StageRow
from crm.schema import service
from tests.factories import insert_rows
from tests.schema.conftest import assert_in_step
from tests.schema.helpers import snapshot


def stage(key, name, category="open", probability=0, **more):
    return {"key": key, "name": name, "category": category, "color": "gray",
            "probability": probability, **more}  # fmt: skip


def package(version="1.0.0") -> dict:
    return {
        "format": "atelier.package",
        "format_version": 1,
        "package": {"name": "b2b-sales", "version": version},
        "entities": {
            "account": {
                "label_singular": "Account",
                "label_plural": "Accounts",
                "name_field": "name",
                "fields": {"name": {"type": "text", "label": "Name", "position": 10}},
            },
            "deal": {
                "label_singular": "Deal",
                "label_plural": "Deals",
                "icon": "🤝",
                "name_field": "title",
                "translations": {"singular": {"es": "Oportunidad", "zh_Hans": "商机"}},
                "fields": {
                    "title": {
                        "type": "text",
                        "label": "Title",
                        "position": 10,
                        "required": True,
                        "searchable": True,
                    },
                    "amount": {
                        "type": "currency",
                        "label": "Amount",
                        "position": 20,
                        "options": {"currency": "EUR"},
                    },
                    "kind": {
                        "type": "picklist",
                        "label": "Kind",
                        "position": 30,
                        "choices": [
                            {"key": "new", "label": "New", "color": "blue"},
                            {"key": "renewal", "label": "Renewal", "labels": {"es": "Renovación"}},
                        ],
                    },
                    "account": {
                        "type": "lookup",
                        "label": "Account",
                        "position": 40,
                        "options": {"target": "account"},
                    },
                    "code": {"type": "text", "label": "Code", "position": 50},
                },
                "layouts": {"quick": {"fields": ["title", "amount"]}},
                "pipelines": {
                    "sales": {
                        "name": "Sales",
                        "default": True,
                        "translations": {"name": {"zh_Hans": "销售"}},
                        "options": {"amount_field": "amount"},
                        "stages": [
                            stage("qualify", "Qualify", probability=10),
                            stage("propose", "Propose", probability=50, required_fields=["amount"]),
                            stage("won", "Won", "won", 100),
                            stage("lost", "Lost", "lost"),
                        ],
                    }
                },
            },
        },
    }


def install(pkg=None, **kw):
    return apply(plan_package(pkg or package()), **kw)


def state() -> tuple:
    """Everything an apply writes: metadata, schema, version, pipelines, layouts,
    provenance."""
    shot = snapshot()
    rows = tuple(
        db.session.scalar(select(func.count()).select_from(m))
        for m in (PipelineRow, StageRow, LayoutRow, PackageItem)
    )
    db.session.rollback()
    return shot, rows


def test_a_new_package_is_applied_and_visible_in_the_specs(app):
    assert install().changed
    compiled = specs.raw()
    deal = compiled.entity("deal")
    assert deal.icon == "🤝" and deal.name_field == "title"
    assert dict(deal.translations["singular"]) == {"es": "Oportunidad", "zh_Hans": "商机"}
    assert [c.key for c in deal.field("kind").choices] == ["new", "renewal"]
    assert deal.field("account").option("target") == "account"
    assert deal.field("title").required
    assert [s.key for s in compiled.pipelines["deal"].get("sales").stages][:4] == [
        "qualify", "propose", "won", "lost",
    ]  # fmt: skip
    assert compiled.quick_layout("deal") == ("title", "amount")
    # Planning the same package again: nothing would change, applying changes nothing.
    again = plan_package(package())
    assert again.empty, [c.path for c in again.changes + again.conflicts]
    version = specs.read_version()
    assert install().changed is False
    assert specs.read_version() == version
    assert_in_step()


def test_plan_of_the_installation_itself_is_empty(app):
    install()
    from crm.packages.current import current_config

    mine = {**package(), **current_config()}
    assert plan_package(mine).empty


def test_labels_change_and_local_changes_are_kept(app):
    install()
    service.update_field("deal", "code", label="Reference")  # a local change
    v2 = package("1.1.0")
    v2["entities"]["deal"]["label_plural"] = "Opportunities"
    v2["entities"]["deal"]["fields"]["amount"]["label"] = "Value"
    p = plan_package(v2)
    assert {(c.action, c.path) for c in p.changes} == {
        ("change", "/entities/deal/label_plural"),
        ("change", "/entities/deal/fields/amount/label"),
    }
    assert [k.path for k in p.kept] == ["/entities/deal/fields/code/label"]
    apply(p)
    deal = specs.raw().entity("deal")
    assert deal.label_plural == "Opportunities"
    assert deal.field("amount").label == "Value"
    assert deal.field("code").label == "Reference"
    assert plan_package(v2).empty


def test_items_left_out_of_an_update_are_archived_with_their_values(app):
    install()
    (rid,) = insert_rows("deal", {"title": "Big", "code": "X1"})
    v2 = package("2")
    del v2["entities"]["deal"]["fields"]["code"]
    apply(plan_package(v2))
    code = specs.raw().entity("deal").field("code", include_archived=True)
    assert code.archived
    table = specs.raw().table("deal")
    assert db.session.scalar(select(table.c.code).where(table.c.id == rid)) == "X1"


def test_a_conflict_needs_a_choice(app):
    install()
    service.update_field("deal", "amount", label="Mine")
    v2 = package("2")
    v2["entities"]["deal"]["fields"]["amount"]["label"] = "Theirs"
    p = plan_package(v2)
    path = "/entities/deal/fields/amount/label"
    assert [c.path for c in p.conflicts] == [path]
    before = state()
    with pytest.raises(ValidationFailed) as refused:
        apply(p)
    assert list(refused.value.errors) == [path]
    assert state() == before
    apply(p, choices={path: "theirs"})
    assert specs.raw().entity("deal").field("amount").label == "Theirs"


def test_keeping_mine_in_a_conflict_keeps_it(app):
    install()
    service.update_field("deal", "amount", label="Mine")
    v2 = package("2")
    v2["entities"]["deal"]["fields"]["amount"]["label"] = "Theirs"
    path = "/entities/deal/fields/amount/label"
    apply(plan_package(v2), choices={path: "mine"})
    assert specs.raw().entity("deal").field("amount").label == "Mine"
    # The package's word is now the base: planning it again shows a kept local change.
    again = plan_package(v2)
    assert again.empty and [k.path for k in again.kept] == [path]


def test_destructive_steps_need_the_explicit_choice(app):
    install()
    insert_rows("deal", {"title": "A", "code": "1"}, {"title": "B", "code": "2"})
    v2 = package("2")
    v2["entities"]["deal"]["fields"]["code"]["unique"] = True
    p = plan_package(v2)
    path = "/entities/deal/fields/code/unique"
    assert [c.path for c in p.destructive()] == [path]
    before = state()
    with pytest.raises(ValidationFailed) as refused:
        apply(p)
    assert list(refused.value.errors) == [path]
    assert state() == before
    apply(p, allow_destructive=True)
    assert specs.raw().entity("deal").field("code").unique


def test_removing_a_stage_that_holds_records_moves_them_when_allowed(app):
    install()
    insert_rows("deal", {"title": "A", "pipeline": "sales", "stage": "propose"})
    v2 = package("2")
    stages = v2["entities"]["deal"]["pipelines"]["sales"]["stages"]
    v2["entities"]["deal"]["pipelines"]["sales"]["stages"] = [
        s for s in stages if s["key"] != "propose"
    ]
    p = plan_package(v2)
    assert [c.path for c in p.destructive()] == ["/entities/deal/pipelines/sales/stages"]
    with pytest.raises(ValidationFailed):
        apply(p)
    apply(p, allow_destructive=True)
    table = specs.raw().table("deal")
    assert db.session.scalar(select(table.c.stage)) == "qualify"


def test_an_installation_changed_since_the_plan_is_refused(app):
    install()
    v2 = package("2")
    v2["entities"]["deal"]["label_plural"] = "Opportunities"
    p = plan_package(v2)
    service.update_field("deal", "title", label="Subject")
    before = state()
    with pytest.raises(Conflict):
        apply(p)
    assert state() == before


def test_writer_problems_leave_nothing_behind(app):
    bad = package()
    # The pipeline's step fails after the entities and fields were written.
    bad["entities"]["deal"]["pipelines"]["sales"]["stages"][0]["color"] = "neon"
    before = state()
    with pytest.raises(ValidationFailed) as refused:
        install(bad)
    assert "stages.0.color" in refused.value.errors
    assert state() == before
    assert_in_step()


def update(v: str) -> dict:
    pkg = package(v)
    deal = pkg["entities"]["deal"]
    deal["label_plural"] = "Opportunities"
    deal["fields"]["notes"] = {"type": "long_text", "label": "Notes", "position": 60}
    deal["pipelines"]["sales"]["stages"].insert(1, stage("meet", "Meet", probability=30))
    deal["layouts"]["quick"] = {"fields": ["title", "notes"]}
    pkg["entities"]["ticket"] = {
        "label_singular": "Ticket",
        "label_plural": "Tickets",
        "fields": {"subject": {"type": "text", "label": "Subject", "position": 10}},
        "pipelines": {"service": {"name": "Service", "stages": [stage("open", "Open")]}},
    }
    return pkg


SCHEMA_STEPS = ("after_metadata_write", "after_ddl", "at_commit")


class Injected(RuntimeError):
    pass


@pytest.mark.parametrize("step", [*SCHEMA_STEPS, *STEPS])
@pytest.mark.parametrize("onto", ["empty", "installed"])
def test_a_failure_at_any_step_leaves_everything_as_before(app, step, onto):
    if onto == "installed":
        install()
    pkg = update("2") if onto == "installed" else package()
    p = plan_package(pkg)
    before = state()

    def explode(at: str) -> None:
        if at == step:
            raise Injected(at)

    app.config["SCHEMA_CHECKPOINT"] = explode
    with pytest.raises(Injected):
        apply(p)
    assert state() == before
    assert specs.current().version == before[0][-1]
    assert_in_step()
    # Positive control: without the fault the same plan goes through.
    app.config["SCHEMA_CHECKPOINT"] = None
    apply(p)
    assert state() != before
    assert plan_package(pkg).empty
    assert_in_step()


def test_provenance_is_the_packages_word(app):
    install()
    base = provenance.base_for("b2b-sales")
    assert (
        base["entities"]["deal"]["fields"]["kind"]
        == package()["entities"]["deal"]["fields"]["kind"]
    )
    assert base["entities"]["deal"]["label_singular"] == "Deal"
    assert provenance.base_for("other") is None
    v2 = copy.deepcopy(package("1.0.1"))
    apply(plan_package(v2))  # no configuration change, a new version recorded
    row = db.session.scalars(select(PackageItem)).first()
    assert row.package_version == "1.0.1"
