"""``flask crm import FILE --entity departments|users``: the organisation from the command
line (issue 16, go-live packs)."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.access.models import Department, User
from crm.extensions import db
from tests.factories import make_user


def write(tmp_path, text: str, name: str = "org.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return str(path)


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["crm", "import", *args])


def count(model) -> int:
    n = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return n


def test_departments_then_users_from_the_command_line(app, admin, tmp_path):
    path = write(tmp_path, "Name,Parent\nSales,\nEMEA,Sales\n")
    r = cli(app, path, "--entity", "departments")
    assert r.exit_code == 0, r.output
    assert "Created: 2, updated: 0, skipped: 0, errors: 0." in r.output
    r = cli(app, path, "--entity", "departments")
    assert "Created: 0, updated: 0, skipped: 2, errors: 0." in r.output
    users = write(tmp_path, "Email,Name,Department\nann@example.com,Ann,EMEA\n", "u.csv")
    r = cli(app, users, "--entity", "users")
    assert r.exit_code == 0, r.output
    assert "Invitation for ann@example.com: " in r.output and "/invite/" in r.output
    assert count(User) == 2 and count(Department) == 2


def test_a_dry_run_with_a_bad_row_writes_nothing_and_fails(app, admin, tmp_path):
    path = write(tmp_path, "Name,Parent\nSales,\nGhost,Nowhere\n")
    r = cli(app, path, "--entity", "departments", "--dry-run")
    assert r.exit_code == 1
    assert "Line 3: " in r.output and "Nowhere" in r.output
    assert count(Department) == 0


def test_the_organisation_is_refused_to_anyone_but_a_full_administrator(app, admin, tmp_path):
    make_user("s@example.com")
    path = write(tmp_path, "Name\nSales\n")
    r = cli(app, path, "--entity", "departments", "--as", "s@example.com")
    assert r.exit_code == 1
    assert count(Department) == 0
