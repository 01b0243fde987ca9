"""Go-live packs (issue 16): steps ordered from the metadata, run in order as chained
jobs, lookups finding the earlier steps' records, owners by e-mail or name, a failed
step stopping the pack."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from crm.access.models import Department, User
from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from crm.golive import checklist, plan
from crm.golive.models import GoLivePack
from crm.imports.models import Import
from crm.records.query import table_of
from crm.schema import service as schema
from tests.factories import make_user
from tests.records.runtime_model import build_model, entity


@pytest.fixture
def model(app):
    return build_model()


def csv(text: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(text.strip().encode() + b"\n"), "file.csv"


def rows(key: str) -> list[dict]:
    table = table_of(entity(key))
    return [dict(r) for r in db.session.execute(select(table).order_by(table.c.id)).mappings()]


def test_the_steps_follow_the_lookups_of_the_metadata(model):
    schema.create_entity(
        "product",
        "Product",
        fields=[{"key": "name", "type": "text", "label": "Name", "required": True}],
        name_field="name",
    )
    schema.create_entity("line", "Deal line", fields=[
        {"key": "title", "type": "text", "label": "Title"},
        {"key": "deal", "type": "lookup", "label": "Deal", "options": {"target": "deal"}},
        {"key": "product", "type": "lookup", "label": "Product",
         "options": {"target": "product"}}], name_field="title")  # fmt: skip
    steps = plan.steps()
    assert steps[:2] == ["@departments", "@users"]
    position = {k: i for i, k in enumerate(steps)}
    assert position["account"] < position["contact"]
    assert position["account"] < position["deal"] < position["line"]
    assert position["product"] < position["line"]
    assert plan.entity_order().needs["line"] == ("deal", "product")


def test_a_cycle_of_lookups_is_broken_and_named(model):
    schema.add_field("account", "main_contact", "lookup", "Main contact",
                     options={"target": "contact"})  # fmt: skip
    order = plan.entity_order()
    keys = [e.key for e in order.entities]
    assert sorted(keys) == ["account", "contact", "deal"]
    assert order.cycles  # account <-> contact: one of them had to come first
    assert keys.index("account") < keys.index("deal")


DEPARTMENTS = "Name,Parent\nSales,\nEMEA,Sales\n"
USERS = """
Email,Name,Department,Roles
ann@example.com,Ann Archer,EMEA,Staff
bob@example.com,Bob Baker,Sales,Staff
"""
ACCOUNTS = """
Name,Code,Industry,Owner
Acme,A1,Tech,ann@example.com
Globex,G1,Retail,BOB@example.com
"""
CONTACTS = """
Full name,Account,Owner
Carla,Acme,Bob Baker
Dan,Globex,
"""


def full_pack() -> dict:
    return {
        "@departments": csv(DEPARTMENTS), "@users": csv(USERS), "account": csv(ACCOUNTS),
        "contact": csv(CONTACTS),
    }  # fmt: skip


def test_a_pack_runs_its_steps_in_order_with_lookups_and_owners(model, admin):
    pack = plan.start(admin, full_pack())
    db.session.refresh(pack)
    assert pack.status == "done", pack.message
    assert [s["target"] for s in pack.steps] == ["@departments", "@users", "account", "contact"]
    assert all(s["status"] == "done" for s in pack.steps)
    ann = db.session.scalar(select(User).where(User.email == "ann@example.com"))
    bob = db.session.scalar(select(User).where(User.email == "bob@example.com"))
    assert ann.department.name == "EMEA"
    accounts = {r["name"]: r for r in rows("account")}
    assert accounts["Acme"]["owner_id"] == ann.id
    assert accounts["Globex"]["owner_id"] == bob.id
    contacts = {r["full_name"]: r for r in rows("contact")}
    assert contacts["Carla"]["account"] == accounts["Acme"]["id"]
    assert contacts["Carla"]["owner_id"] == bob.id  # by name
    assert contacts["Dan"]["owner_id"] == admin.id  # no owner given: the importer


def test_running_the_same_pack_again_creates_nothing(model, admin):
    plan.start(admin, full_pack())
    again = plan.start(admin, full_pack())
    db.session.refresh(again)
    assert again.status == "done", again.message
    assert len(rows("account")) == 2 and len(rows("contact")) == 2
    assert db.session.scalar(select(func.count()).select_from(Department)) == 2
    assert db.session.scalar(select(func.count()).select_from(User)) == 3


def test_a_step_with_errors_stops_the_pack_and_says_which(model, admin):
    files = full_pack()
    files["contact"] = csv("Full name,Account\nCarla,Acme\nEve,Initech\n")
    files["deal"] = csv("Title,Account\nBig deal,Acme\n")
    pack = plan.start(admin, files)
    db.session.refresh(pack)
    assert pack.status == "failed"
    assert pack.failed_step == "contact"
    assert "Contacts" in pack.message
    assert [s["status"] for s in pack.steps] == ["done", "done", "done", "failed", "waiting"]
    assert rows("deal") == []  # the step after the failed one never ran
    state = checklist.checklist(admin)
    contact = next(s for s in state.steps if s.key == "contact")
    assert "Contacts: 1 row names Accounts that were not found." in contact.missing


def test_an_owner_nobody_is_fails_the_row(model, admin):
    make_user("ann@example.com", display_name="Ann")
    files = {"account": csv("Name,Owner\nAcme,ann@example.com\nGlobex,zed@example.com\n")}
    pack = plan.start(admin, files)
    db.session.refresh(pack)
    assert pack.status == "failed"
    assert [r["name"] for r in rows("account")] == ["Acme"]


def test_a_pack_with_a_bad_file_writes_nothing(model, admin):
    files = full_pack()
    files["contact"] = csv("Nickname\nCarla\n")  # the required full name is not mapped
    with pytest.raises(ValidationFailed) as caught:
        plan.start(admin, files)
    assert set(caught.value.errors) == {"contact"}
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0
    assert db.session.scalar(select(func.count()).select_from(GoLivePack)) == 0
    assert db.session.scalar(select(func.count()).select_from(Department)) == 0


def test_only_full_administrators_start_a_pack(model, staff):
    with pytest.raises(Forbidden):
        plan.start(staff, {"account": csv(ACCOUNTS)})
    assert rows("account") == []


def test_a_step_that_fails_unexpectedly_stops_the_pack_instead_of_leaving_it_running(
    model, admin, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(plan.engine, "run", broken)
    pack = plan.start(admin, {"@departments": csv(DEPARTMENTS), "account": csv(ACCOUNTS)})
    db.session.refresh(pack)
    assert pack.status == "failed" and pack.failed_step == "account"
    assert "failed unexpectedly" in pack.message
    assert db.session.scalar(select(func.count()).select_from(Department)) == 2
