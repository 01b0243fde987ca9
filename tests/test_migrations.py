"""Alembic migrations: up from empty on this run's database, and in step with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from crm import migrate
from crm.extensions import db
from crm.models import import_all


def test_upgrade_from_empty_creates_system_tables(databases, tmp_path):
    url = databases.empty(tmp_path)
    migrate.upgrade(url)
    migrate.upgrade(url)  # idempotent
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert {"users", "auth_sessions", "login_failures", "app_settings"} <= tables
            assert migrate.current_revision(conn) == migrate.head_revision()
    finally:
        engine.dispose()


def test_models_match_migrations(databases, tmp_path):
    """A model changed without a migration shows up here as a difference."""
    import_all()
    url = databases.empty(tmp_path)
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = [
                d
                for d in compare_metadata(ctx, db.metadata)
                if not (d[0] == "remove_table" and d[1].name.startswith("x_"))
            ]
    finally:
        engine.dispose()
    assert diff == []
