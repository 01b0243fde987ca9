"""Every schema test ends with the reconcile check: metadata and real schema must agree."""

from __future__ import annotations

import pytest
from flask import Flask

from crm.extensions import db
from crm.metadata import specs
from crm.schema.doctor import reconcile


def assert_in_step() -> None:
    db.session.rollback()
    problems = reconcile(db.session.connection(), specs.compile_all(specs.read_version()))
    db.session.rollback()
    assert problems == [], "metadata and schema differ:\n" + "\n".join(problems)


@pytest.fixture(autouse=True)
def doctor_after_test(request):
    # Requested before the test runs, so this teardown runs while the app still exists.
    app: Flask | None = request.getfixturevalue("app") if "app" in request.fixturenames else None
    yield
    if app is not None:
        with app.app_context():
            assert_in_step()
