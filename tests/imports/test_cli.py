"""``flask crm import``: scripted loads with counts and exit codes (issue 16)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.imports.models import Import
from crm.records.query import table_of
from tests.records.runtime_model import build_model, entity


@pytest.fixture
def model(app):
    return build_model()


def accounts() -> int:
    table = table_of(entity("account"))
    n = db.session.scalar(select(func.count()).select_from(table))
    db.session.rollback()
    return n


def write(tmp_path, text: str, name: str = "a.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return str(path)


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["crm", "import", *args])


GOOD = "name,Code,Employees\nAcme,C1,3\nBeta,C2,4\n"


def test_import_prints_the_counts_and_runs_twice_without_doubling(app, admin, model, tmp_path):
    path = write(tmp_path, GOOD)
    r = cli(app, path, "--entity", "account", "--mode", "upsert", "--match", "code")
    assert r.exit_code == 0, r.output
    assert "Created: 2, updated: 0, skipped: 0, errors: 0." in r.output
    r = cli(app, path, "--entity", "account", "--mode", "upsert", "--match", "code")
    assert "Created: 0, updated: 0, skipped: 2, errors: 0." in r.output
    assert accounts() == 2


def test_a_dry_run_writes_nothing_and_fails_on_a_bad_row(app, admin, model, tmp_path):
    path = write(tmp_path, GOOD + "Gamma,C3,many\n")
    r = cli(app, path, "--entity", "account", "--dry-run", "--as", admin.email)
    assert r.exit_code == 1
    assert "Created: 2, updated: 0, skipped: 0, errors: 1." in r.output
    assert "Line 4: employees: " in r.output and "nothing was written" in r.output
    assert accounts() == 0
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0
    ok = cli(app, write(tmp_path, GOOD, "b.csv"), "--entity", "account", "--dry-run")
    assert ok.exit_code == 0 and accounts() == 0


def test_a_mapping_file_names_the_fields(app, admin, model, tmp_path):
    path = write(tmp_path, "Firma;Nummer\nAcme;C1\n")
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"Firma": "name", "Nummer": "code"}))
    r = cli(app, path, "--entity", "account", "--mapping", str(mapping))
    assert r.exit_code == 0, r.output
    assert "Created: 1" in r.output


def test_an_unreadable_file_or_unknown_entity_exits_non_zero(app, admin, model, tmp_path):
    empty = write(tmp_path, "")
    r = cli(app, empty, "--entity", "account")
    assert r.exit_code == 1 and "empty" in r.output
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"\x00\x01\x02\x03" * 100)
    assert cli(app, str(binary), "--entity", "account").exit_code == 1
    assert cli(app, write(tmp_path, GOOD), "--entity", "nope").exit_code == 1
    assert accounts() == 0


def test_both_and_upsert_are_one_mode_on_the_command_line(app, admin, model, tmp_path):
    path = write(tmp_path, GOOD)
    r = cli(app, path, "--entity", "account", "--mode", "both", "--match", "code")
    assert "Created: 2, updated: 0, skipped: 0, errors: 0." in r.output, r.output
    changed = write(tmp_path, "name,Code,Employees\nAcme,C1,30\nGamma,C3,5\n", "b.csv")
    r = cli(app, changed, "--entity", "account", "--mode", "upsert", "--match", "code")
    assert "Created: 1, updated: 1, skipped: 0, errors: 0." in r.output, r.output
    modes = db.session.scalars(select(Import.mode).order_by(Import.id)).all()
    assert modes == ["both", "both"] and accounts() == 3
