"""One app, one database and one world per test module: building the world takes seconds,
so the tests of a module share it (``World.reset`` undoes what a test wrote to records;
a module of its own keeps what it does to the configuration, such as shared views and
the change log, away from the others)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm.extensions import db
from tests.authz.world import World
from tests.conftest import build_app


@pytest.fixture(scope="module")
def world(databases, tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("authz")
    app = build_app(databases.fresh(tmp), str(tmp / "instance"))
    with app.app_context():
        built = World(app).build()
        yield built
        db.session.remove()
        db.engine.dispose()
