"""`make run`'s demo: an administrator and a configured company, printed log-in."""

from __future__ import annotations

from crm.metadata import specs
from tests.factories import make_user


def test_demo_creates_admin_and_model_once_and_prints_the_login(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["crm", "demo"])
    assert first.exit_code == 0, first.output
    assert "Sign in as admin@demo.atelier.example with the password" in first.output
    password = first.output.split("with the password ")[1].split()[0]
    compiled = specs.current()
    assert {"account", "contact", "deal", "ticket"} <= set(compiled.entities)
    assert compiled.entity("deal").field("account").option("target") == "account"
    from crm.records.stats import live_records

    counts = {
        k: live_records(compiled.entity(k)).value for k in ("account", "contact", "deal", "ticket")
    }
    assert counts == {"account": 1200, "contact": 2400, "deal": 1800, "ticket": 240}
    again = runner.invoke(args=["crm", "demo"])
    assert password in again.output
    assert len(specs.current().entities) == 4
    client = app.test_client()
    r = client.submit("/login", {"email": "admin@demo.atelier.example", "password": password})
    assert r.status_code == 303


def test_demo_leaves_an_existing_install_alone(app):
    make_user("someone@example.com")
    result = app.test_cli_runner().invoke(args=["crm", "demo"])
    assert "already had users" in result.output
    assert not specs.current().entities


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


def test_demo_speaks_three_languages(app):
    """The demo's labels have Chinese and Spanish translations and its people a mix of
    languages and time zones: 林美华 reads Chinese in Shanghai, Lucía Spanish in Madrid."""
    from sqlalchemy import select

    from crm.access.models import Role, User
    from crm.extensions import db

    result = app.test_cli_runner().invoke(args=["crm", "demo"])
    assert result.exit_code == 0
    password = result.output.split("with the password ")[1].split()[0]
    plain = specs.raw()
    zh, es = plain.localized("zh_Hans"), plain.localized("es")
    assert zh.entity("account").label_plural == "客户" and es.entity("deal").label_plural == (
        "Oportunidades"
    )
    assert zh.entity("deal").field("stage").choice("won").label == "赢单"
    assert es.entity("account").field("industry").choice("retail").label == "Comercio minorista"
    assert [s.title for s in zh.layout("account").sections] == ["公司信息", "地址", "备注"]
    people = {
        u.email.split("@")[0]: (u.locale, u.timezone) for u in db.session.scalars(select(User))
    }
    assert people["meihua"] == ("zh_Hans", "Asia/Shanghai")
    assert people["lucia"] == ("es", "Europe/Madrid")
    assert people["admin"] == ("en", "Europe/London")
    rep = db.session.scalar(select(Role).where(Role.name == "Sales rep"))
    assert rep.translations["name"]["zh_Hans"] == "销售代表"
    client = app.test_client()
    client.submit("/login", {"email": "meihua@demo.atelier.example", "password": password})
    page = client.get("/r/deal/").data.decode()
    assert "进行中的商机" in page and "商机名称" in page and "Open deals" not in page
