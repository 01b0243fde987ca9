"""Test databases: a fresh, migrated database for every test, on SQLite or PostgreSQL.

SQLite: migrate one template file per run, copy it for each test (a file copy is ~1 ms).
PostgreSQL: create one database per run (and per xdist worker), migrate it once, and
between tests drop the entity tables and truncate the system tables.
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from crm import migrate

KIND = os.environ.get("TEST_DATABASE", "sqlite")
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def sa_url(url: str) -> str:
    """A libpq URL as a SQLAlchemy URL for psycopg 3."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@functools.cache
def _access_migration():
    """The migration that seeds the "Staff" role, loaded from its file (it has no package)."""
    import importlib.util

    path = Path(migrate.MIGRATIONS) / "versions" / "0006_access.py"
    spec = importlib.util.spec_from_file_location("migration_0006_access", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PostgresServer:
    """Creates and drops throwaway databases on the server named by TEST_POSTGRES_URL."""

    def __init__(self, url: str | None = None):
        self.url = url or os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG)

    def create(self, prefix: str = "atelier_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return sa_url(make_url(self.url).set(database=name).render_as_string(False))

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class TestDatabases:
    """Hands out a fresh migrated database URL per test."""

    __test__ = False

    def __init__(self, workdir: Path):
        self.kind = KIND
        self.workdir = workdir
        self.created: list[str] = []
        if self.kind == "postgresql":
            self.server = PostgresServer()
            self.url = self.server.create()
            self.created.append(self.url)
            migrate.upgrade(self.url)
            self.engine = create_engine(self.url, poolclass=None)
        else:
            self.template = workdir / "template.sqlite"
            migrate.upgrade(f"sqlite:///{self.template}")

    def fresh(self, tmp_path: Path) -> str:
        """A URL to a migrated database with no rows and no entity tables."""
        if self.kind == "postgresql":
            self._reset_postgres()
            return self.url
        target = tmp_path / "db.sqlite"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"

    def empty(self, tmp_path: Path) -> str:
        """A URL to a brand-new, unmigrated database (for migration tests)."""
        if self.kind == "postgresql":
            url = self.server.create("atelier_empty")
            self.created.append(url)
            return url
        return f"sqlite:///{tmp_path / 'empty.sqlite'}"

    def _reset_postgres(self) -> None:
        # A connection the previous test left behind (a request of its live server still
        # finishing, say) would hold locks the reset's TRUNCATE needs: it once deadlocked.
        # The database is this worker's alone, so any other session on it is a leftover.
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        with self.engine.begin() as conn:
            names = inspect(conn).get_table_names()
            for name in names:
                if name.startswith("x_"):
                    conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
            system = [n for n in names if not n.startswith("x_") and n != "alembic_version"]
            if system:
                quoted = ", ".join(f'"{n}"' for n in system)
                conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
            # Rows that migrations seed, as a freshly migrated database has them.
            conn.execute(text("INSERT INTO meta_version (id, version) VALUES (1, 1)"))
            _access_migration().seed_staff_role(conn)
            # Its stable key, as migration 0016 backfilled it (the seed predates keys).
            conn.execute(text("UPDATE roles SET key = 'staff' WHERE id = 1 AND key IS NULL"))

    def close(self) -> None:
        if self.kind == "postgresql":
            self.engine.dispose()
            for url in self.created:
                self.server.drop(url)
