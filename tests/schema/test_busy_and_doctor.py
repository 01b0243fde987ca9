"""A busy table makes a schema change fail cleanly; the doctor reports drift."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from crm.errors import Conflict
from crm.extensions import db
from crm.metadata import specs
from crm.schema import service
from crm.schema.doctor import reconcile
from tests.conftest import build_app
from tests.factories import insert_rows
from tests.schema.helpers import snapshot


@pytest.fixture
def quick_app(db_url, tmp_path):
    app = build_app(
        db_url, str(tmp_path / "i"), SCHEMA_LOCK_TIMEOUT_MS=300, SQLITE_BUSY_TIMEOUT_MS=300
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_change_on_a_busy_table_fails_cleanly_and_changes_nothing(quick_app, db_url):
    service.create_entity(
        "deal", "Deal", fields=[{"key": "title", "type": "text", "label": "Title"}]
    )
    insert_rows("deal", {"title": "A"})
    before = snapshot()
    other = create_engine(db_url)
    conn = other.connect()
    try:
        if other.dialect.name == "postgresql":
            conn.execute(text("BEGIN"))
            conn.execute(text("LOCK TABLE x_deal IN ACCESS SHARE MODE"))
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        with pytest.raises(Conflict, match="The table is busy"):
            service.add_field("deal", "amount", "integer", "Amount")
    finally:
        conn.rollback()
        conn.close()
        other.dispose()
    assert snapshot() == before
    service.add_field("deal", "amount", "integer", "Amount")
    assert specs.current().entity("deal").field("amount") is not None


def test_doctor_reports_drift_and_the_command_exits_nonzero(app):
    service.create_entity(
        "deal", "Deal", fields=[{"key": "title", "type": "text", "label": "Title"}]
    )
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["crm", "doctor"])
    assert ok.exit_code == 0, ok.output
    assert "The database matches the metadata: 1 entity, 1 field" in ok.output

    db.session.execute(text("ALTER TABLE x_deal ADD COLUMN sneaky VARCHAR(10)"))
    db.session.execute(text("CREATE TABLE x_orphan (id INTEGER PRIMARY KEY)"))
    db.session.commit()
    problems = reconcile(db.session.connection(), specs.current())
    db.session.rollback()
    assert "x_deal.sneaky: column exists but no field describes it" in problems
    assert "x_orphan: table exists but no entity describes it" in problems
    bad = runner.invoke(args=["crm", "doctor"])
    assert bad.exit_code == 1
    assert "2 differences" in bad.output
    db.session.execute(text("DROP TABLE x_orphan"))
    db.session.execute(text("ALTER TABLE x_deal DROP COLUMN sneaky"))
    db.session.commit()


def test_doctor_sees_a_missing_index(app):
    service.create_entity(
        "deal", "Deal", fields=[{"key": "code", "type": "text", "label": "Code", "unique": True}]
    )
    name = next(ix.name for ix in specs.current().table("deal").indexes if ix.unique)
    db.session.execute(text(f'DROP INDEX "{name}"'))
    db.session.commit()
    problems = reconcile(db.session.connection(), specs.current())
    db.session.rollback()
    assert problems == [f"x_deal: index {name} is missing"]
    db.session.execute(
        text(f'CREATE UNIQUE INDEX "{name}" ON x_deal (code) WHERE deleted_at IS NULL')
    )
    db.session.commit()
