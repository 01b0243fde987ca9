"""The app factory, configuration from the environment, and the migration guard."""

from __future__ import annotations

import pytest

from app import create_app
from crm import config
from crm.extensions import db
from crm.migrate import DatabaseNotMigrated


def test_factory_builds_independent_apps(db_url, tmp_path):
    a = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "INSTANCE_PATH": str(tmp_path / "a")})
    b = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "INSTANCE_PATH": str(tmp_path / "b")})
    assert a is not b
    assert a.test_client().get("/healthz").json == {"status": "ok"}
    for each in (a, b):
        with each.app_context():
            db.engine.dispose()


def test_database_url_defaults_to_sqlite_under_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert config.database_url(tmp_path) == f"sqlite:///{tmp_path / 'atelier.db'}"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_url_maps_postgres_to_psycopg3(monkeypatch, scheme):
    monkeypatch.setenv("DATABASE_URL", f"{scheme}://u:p@db.example:5432/crm")
    assert config.database_url() == "postgresql+psycopg://u:p@db.example:5432/crm"


def test_secret_key_is_generated_once_and_kept(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = config.secret_key(tmp_path)
    assert len(first) >= 48
    assert config.secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    other = config.secret_key(tmp_path / "elsewhere")
    assert other != first


def test_workers_starting_at_once_agree_on_one_secret_key(monkeypatch, tmp_path):
    """gunicorn starts several workers together: each may find no key file yet. Whoever
    writes second must not fail, nor read a half-written key, nor replace the first key."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config.Path, "exists", lambda self: False)  # all saw "no key yet"
    first = config.secret_key(tmp_path)
    second = config.secret_key(tmp_path)
    assert second == first and len(first) >= 48
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no drafts left


def test_secret_key_from_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert config.load({"INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_app_refuses_to_start_on_unmigrated_database(databases, tmp_path):
    url = databases.empty(tmp_path)
    with pytest.raises(DatabaseNotMigrated) as info:
        create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path)})
    message = str(info.value)
    assert "empty database" in message
    assert "make migrate" in message
