"""Cloning a company into another installation, in two steps: export here, plan and apply
there. Both ways an implementer does it (the command line, and the Packages screens), each
ending with the other installation exporting the very same bytes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from crm import migrate
from crm.auth import service as auth
from crm.extensions import db
from crm.metadata import specs
from crm.packages.apply import apply, plan_package
from crm.schema import service
from tests.conftest import build_app
from tests.factories import make_user
from tests.packages.test_apply_roles import package
from tests.packages.test_screen import hidden, upload

HEADER = ["--name", "acme-crm", "--version", "3.1"]


def configure_here(admin) -> None:
    """Installation A: a package applied, then the company's own changes on top."""
    apply(plan_package(package()), actor_id=admin.id)
    service.update_field("deal", "amount", label="Deal value")
    with service.change(admin.id) as c:
        c.add_field("account", "vat", "text", "VAT number")


@contextmanager
def other_installation(databases, tmp_path) -> Iterator[Flask]:
    """Installation B: its own, freshly migrated database and instance folder."""
    folder = tmp_path / "other"
    folder.mkdir()
    url = databases.empty(folder)
    migrate.upgrade(url)
    other = build_app(url, str(folder / "instance"))
    with other.app_context():
        try:
            yield other
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_company_is_cloned_with_the_command_line(app, admin, databases, tmp_path):
    configure_here(admin)
    here = tmp_path / "acme.json"
    out = app.test_cli_runner().invoke(
        args=["crm", "package", "export", *HEADER, "--out", str(here)]
    )
    assert out.exit_code == 0, out.output

    with other_installation(databases, tmp_path) as other:
        make_user("ops@example.com", is_admin=True)
        runner = other.test_cli_runner()
        plan = runner.invoke(args=["crm", "package", "plan", str(here)])
        assert plan.exit_code == 0, plan.output
        assert "+ add entity deal" in plan.stdout and "+ add field vat" in plan.stdout
        applied = runner.invoke(
            args=["crm", "package", "apply", str(here), "--yes", "--as", "ops@example.com"]
        )
        assert applied.exit_code == 0, applied.output
        assert specs.current().entities["deal"].field("amount").label == "Deal value"
        there = tmp_path / "there.json"
        out = runner.invoke(args=["crm", "package", "export", *HEADER, "--out", str(there)])
        assert out.exit_code == 0, out.output
        assert there.read_bytes() == here.read_bytes()
        # And the clone knows where its configuration came from: planning it again is empty.
        again = runner.invoke(args=["crm", "package", "plan", str(here)])
        assert again.stdout.strip() == "Nothing would change."


def _sign_in(user, client):
    token = auth.open_session(user, ip="127.0.0.1", user_agent="pytest").token
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = token
        sess["_fresh"] = True
    return client


def test_a_company_is_cloned_on_the_screens(app, admin, login_as, databases, tmp_path):
    configure_here(admin)
    download = login_as(admin).get("/admin/packages/export?name=acme-crm&version=3.1")
    assert download.status_code == 200
    assert 'filename="acme-crm-3.1.json"' in download.headers["Content-Disposition"]
    exported = download.get_data()

    with other_installation(databases, tmp_path) as other:
        ops = make_user("ops@example.com", is_admin=True)
        client = _sign_in(ops, other.test_client())
        page = upload(client, exported, filename="acme-crm-3.1.json")
        html = page.get_data(as_text=True)
        assert page.status_code == 200, html
        assert "Entity “Deals”" in html and "VAT number" in html
        form = {"csrf_token": client.csrf_token(), **hidden(html)}
        client.post("/admin/packages/apply", data=form, follow_redirects=True)
        assert {"account", "deal"} <= set(specs.current().entities)
        again = client.get("/admin/packages/export?name=acme-crm&version=3.1")
        assert again.get_data() == exported
        # The roles came along, with their rights.
        assert re.search(r'"sales_rep": \{', again.get_data(as_text=True))
