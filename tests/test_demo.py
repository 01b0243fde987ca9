"""`make run`'s demo: the B2B sales starter applied as it is, people holding its roles,
demo records, and the printed log-ins. The demo's configuration is the starter's: built and
exported, it gives the starter's bytes back (no drift)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm import demo
from crm.access import policy
from crm.access.models import Role, User
from crm.extensions import db
from crm.metadata import specs
from crm.records.query import scoped
from crm.records.stats import live_records
from tests.factories import make_user

ENTITIES = {"account", "contact", "lead", "deal", "activity"}


@pytest.fixture
def small_demo(monkeypatch):
    """The demo with fewer records (what is checked does not need a few thousand)."""
    monkeypatch.setattr(demo, "ACCOUNTS", 40)


def _build(app) -> str:
    """Run ``crm demo``; the printed password."""
    result = app.test_cli_runner().invoke(args=["crm", "demo"])
    assert result.exit_code == 0, result.output
    return result.output.split("with the password ")[1].split()[0]


def _user(local: str) -> User:
    return db.session.scalar(select(User).where(User.email == f"{local}@demo.atelier.example"))


def test_demo_creates_admin_and_model_once_and_prints_the_login(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["crm", "demo"])
    assert first.exit_code == 0, first.output
    assert "Sign in as admin@demo.atelier.example with the password" in first.output
    password = first.output.split("with the password ")[1].split()[0]
    compiled = specs.current()
    assert set(compiled.entities) == ENTITIES  # the starter's; no tickets
    assert compiled.entity("deal").field("account").option("target") == "account"
    counts = {k: live_records(compiled.entity(k)).value for k in sorted(ENTITIES)}
    assert counts == {"account": 250, "activity": 750, "contact": 500, "deal": 375, "lead": 250}
    # One person per role of the starter, printed to sign in as; each of them can.
    printed = {
        line.split()[0]: " ".join(line.split()[1:])
        for line in first.output.splitlines()
        if "@demo.atelier.example" in line and "Sign in" not in line
    }
    assert sorted(printed.values()) == [
        "Customer care", "Finance", "Sales manager", "Sales operations", "Sales rep",
    ]  # fmt: skip
    again = runner.invoke(args=["crm", "demo"])
    assert password in again.output
    assert len(specs.current().entities) == len(ENTITIES)
    for email in ["admin@demo.atelier.example", *printed]:
        client = app.test_client()
        r = client.submit("/login", {"email": email, "password": password})
        assert r.status_code == 303, email


def test_demo_leaves_an_existing_install_alone(app):
    make_user("someone@example.com")
    result = app.test_cli_runner().invoke(args=["crm", "demo"])
    assert "already had users" in result.output
    assert not specs.current().entities


def test_the_demo_configuration_is_the_starter_byte_for_byte(app, small_demo):
    """No drift: the demo's configuration, exported under the starter's name, version and
    description, is the starter file; and planning the starter again changes nothing."""
    from crm.packages.apply import plan_package
    from crm.packages.export import dumps, export_package
    from crm.packages.load import load

    _build(app)
    raw = demo.STARTER.read_bytes()
    package = load(raw, filename=demo.STARTER.name, existing=specs.raw().entities).data
    header = package["package"]
    exported = dumps(
        export_package(
            name=header["name"], version=header["version"], description=header["description"]
        )
    )
    assert exported.encode("utf-8") == raw
    again = plan_package(package)
    assert again.changes == [] and again.conflicts == []


def test_demo_addresses_fold_accents_as_people_write_them():
    """Demo contacts' e-mail addresses read like real ones: "García" gives "garcia", not
    "garca"; a name with no Latin form gives a generic address."""
    import random

    from crm.demo_data import _email

    def address(first: str, last: str) -> str | None:
        rnd = random.Random(0)  # its first draw keeps the address (12% have none)
        return _email(rnd, first, last, 7)

    assert address("Zofia", "García") == "zofia.garcia7@example.com"
    assert address("Łukasz", "Øster") == "lukasz.oster7@example.com"
    assert address("Jörg", "Straße") == "jorg.strasse7@example.com"
    assert address("李", "伟") == "contact7@example.com"


def test_demo_speaks_three_languages(app, small_demo):
    """The starter's labels have Chinese and Spanish translations and the demo's people a
    mix of languages and time zones: 林美华 reads Chinese in Shanghai, Lucía Spanish in
    Madrid."""
    password = _build(app)
    plain = specs.raw()
    zh, es = plain.localized("zh_Hans"), plain.localized("es")
    assert zh.entity("account").label_plural == "客户" and es.entity("deal").label_plural == (
        "Oportunidades"
    )
    assert zh.entity("lead").label_plural == "线索"
    assert es.entity("lead").label_plural == "Clientes potenciales"
    assert zh.entity("deal").field("stage").choice("won").label == "赢单"
    assert es.entity("account").field("industry").choice("retail").label == "Comercio minorista"
    assert [s.title for s in zh.layout("account").sections] == ["公司信息", "地址", "备注"]
    people = {
        u.email.split("@")[0]: (u.locale, u.timezone) for u in db.session.scalars(select(User))
    }
    assert people["meihua"] == ("zh_Hans", "Asia/Shanghai")
    assert people["lucia"] == ("es", "Europe/Madrid")
    assert people["admin"] == ("en", "Europe/London")
    rep = db.session.scalar(select(Role).where(Role.key == "sales_rep"))
    assert rep.translations["name"]["zh_Hans"] == "销售代表"
    client = app.test_client()
    client.submit("/login", {"email": "meihua@demo.atelier.example", "password": password})
    page = client.get("/r/deal/").data.decode()
    assert "进行中的商机" in page and "商机名称" in page and "Open deals" not in page


def test_demo_records_are_scoped_by_the_starters_roles(app, small_demo):
    """Signed in as each role's person, the records and fields are the role's: a sales rep
    reads every account but only their own deals and leads and never a margin; the sales
    manager reads the sales teams' deals; customer care reads deals without amounts;
    finance reads deals with amounts but no leads; sales operations configures."""
    _build(app)
    compiled = specs.current()

    def count(user: User, entity: str) -> int:
        spec = compiled.entity(entity)
        return db.session.scalar(scoped(user, spec, "read", columns=[func.count()]))

    def visible(user: User, entity: str) -> set[str]:
        return {f.key for f in policy.visible_fields(user, compiled.entity(entity), "read")}

    total = {k: live_records(compiled.entity(k)).value for k in ENTITIES}
    amelie, grace = _user("amelie"), _user("grace")
    omar, priya, ingrid = _user("omar"), _user("priya"), _user("ingrid")
    deal = compiled.table("deal")
    mine = db.session.scalar(
        select(func.count()).where(deal.c.owner_id == amelie.id, deal.c.deleted_at.is_(None))
    )
    assert 0 < count(amelie, "deal") == mine < total["deal"]
    assert count(amelie, "account") == total["account"]
    assert 0 < count(amelie, "lead") < total["lead"]
    assert "margin" not in visible(amelie, "deal") and "amount" in visible(amelie, "deal")
    # The demo's sales reps are all below the sales manager's department.
    assert count(grace, "deal") == total["deal"]
    assert count(omar, "deal") == total["deal"]
    assert {"amount", "margin"}.isdisjoint(visible(omar, "deal"))
    assert count(omar, "lead") == 0
    assert count(priya, "deal") == total["deal"] and count(priya, "lead") == 0
    assert {"amount", "margin"} <= visible(priya, "deal") and "notes" not in visible(priya, "deal")
    assert policy.can(ingrid, policy.CONFIGURE) and not policy.can(amelie, policy.CONFIGURE)


def test_demo_sales_reps_have_next_steps_on_their_deals(app, small_demo, login_as):
    """The demo's reps open "My tasks" on tasks of their own deals, some overdue, and the
    deals carry logged calls and meetings by their owners."""
    from crm.activities.models import Activity, Task

    _build(app)
    deal = specs.current().table("deal")
    tasks = db.session.execute(
        select(Task.assignee_id, deal.c.owner_id).join(deal, deal.c.id == Task.record_id)
    ).all()
    assert len(tasks) >= 3 and all(assignee == owner for assignee, owner in tasks)
    assert db.session.scalar(select(func.count()).select_from(Activity)) == len(tasks)
    rep = db.session.get(User, tasks[0][0])
    page = login_as(rep).get("/tasks/").get_data(as_text=True)
    assert "You have no open tasks." not in page and 'class="card my-tasks"' in page
