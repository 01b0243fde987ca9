"""Fixtures in the style of the Flask tutorial: app (fresh database per test), client, login."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask
from hypothesis import settings

from app import create_app
from crm.auth import service
from crm.extensions import db
from tests.factories import PASSWORD, make_user
from tests.support.client import CRMClient
from tests.support.databases import KIND, TestDatabases

# No time limit per example: speed lives in bench/, and a busy machine (CI runs beside
# other work) made a round-trip property test miss Hypothesis' 200 ms deadline.
settings.register_profile("atelier", deadline=None)
settings.load_profile("atelier")


def pytest_report_header(config):
    return f"database: {KIND}"


def pytest_terminal_summary(terminalreporter):
    """The authorization matrix's size and findings, summed over its pieces (which xdist may
    have run on several workers: this hook runs where the reports are gathered)."""
    from tests.authz import summary

    summary.write(terminalreporter)


@pytest.fixture(scope="session")
def databases(tmp_path_factory) -> Iterator[TestDatabases]:
    dbs = TestDatabases(tmp_path_factory.mktemp("databases"))
    yield dbs
    dbs.close()


def build_app(url: str, instance: str, **overrides) -> Flask:
    """An app on ``url`` configured for tests (CSRF stays on: tests send tokens)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "SECRET_KEY": "test-secret-" + os.urandom(8).hex(),
            "INSTANCE_PATH": instance,
            **overrides,
        }
    )
    app.test_client_class = CRMClient
    return app


@pytest.fixture
def db_url(databases, tmp_path) -> str:
    return databases.fresh(tmp_path)


@pytest.fixture
def app(db_url, tmp_path) -> Iterator[Flask]:
    app = build_app(db_url, str(tmp_path / "instance"))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app) -> CRMClient:
    return app.test_client()


@pytest.fixture
def login_as(app):
    """``login_as(user, client)``: sign ``client`` in as ``user`` through a real session row."""

    def _login(user, client: CRMClient | None = None) -> CRMClient:
        client = client or app.test_client()
        auth = service.open_session(user, ip="127.0.0.1", user_agent="pytest")
        db.session.commit()
        with client.session_transaction() as sess:
            sess["_user_id"] = auth.token
            sess["_fresh"] = True
        return client

    return _login


@pytest.fixture
def admin(app):
    return make_user("admin@example.com", display_name="Ada Admin", is_admin=True)


@pytest.fixture
def staff(app):
    return make_user("staff@example.com", display_name="Sam Staff")


@pytest.fixture
def password() -> str:
    return PASSWORD
