"""Alembic, driven from code: upgrade a database and tell whether it is up to date.

Alembic manages only the static system tables. Entity tables (``x_*``) belong to the
schema pipeline and are invisible to it (see ``migrations/env.py``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseNotMigrated(RuntimeError):
    """The database is behind (or ahead of) the code's migrations."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` for our migrations folder, pointed at ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None for an empty database."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (idempotent)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def check_up_to_date(connection: Connection, url_for_message: str) -> None:
    """Raise ``DatabaseNotMigrated`` with the command to run unless the database is at head."""
    current, head = current_revision(connection), head_revision()
    if current != head:
        state = "an empty database" if current is None else f"revision {current}"
        raise DatabaseNotMigrated(
            f"The database {url_for_message} is at {state}, but this code needs revision {head}.\n"
            "Run `make migrate` (or `.venv/bin/python -m crm migrate`) and start again; "
            "`make run` does this for you."
        )
