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


def pytest_terminal_summary(terminalreporter):
    """How big the authorization matrix was and what it found (when it ran)."""
    from tests.authz import declare as d
    from tests.authz.summary import RUNS

    if not RUNS:
        return
    tr = terminalreporter
    tr.section("authorization matrix")
    routes = set().union(*(r.exercised for r in RUNS))
    tr.write_line(
        f"{len(RUNS)} actors ({len(d.ROLES)} roles, one holding two, one full administrator)"
        f" x {len(d.ENTITIES)} entities x {len(routes)} routes x positions "
        f"({len(d.RECORD_POSITIONS)} per single-record route; every one of the "
        f"{len(d.SLOTS)} live and {len(d.SLOTS)} binned records for list-like routes)"
    )
    total = bad = requests = 0
    seconds = 0.0
    for run in RUNS:
        wrong = [c for c in run.cases if not c.ok]
        allow = sum(1 for c in wrong if c.observed is True)
        deny = sum(1 for c in wrong if c.observed is False)
        other = len(wrong) - allow - deny
        tr.write_line(
            f"{run.actor:8} {len(run.cases):6} cases, {run.requests:5} requests, "
            f"{run.seconds:5.1f}s: {allow} unexpected allows, {deny} unexpected denials, "
            f"{other} neither, {len(run.leaks)} leaks"
        )
        total += len(run.cases)
        bad += len(wrong) + len(run.leaks)
        requests += run.requests
        seconds += run.seconds
    tr.write_line(
        f"all      {total:6} cases, {requests:5} requests, {seconds:5.1f}s: {bad} problems"
    )
