"""The authorization matrix: every role x entity x route x record position, over HTTP,
against the oracle.

One test per actor and probe (a probe covers one route group for every entity), plus one
per actor for the home page and the administration gates, so pytest-xdist spreads the
matrix over its workers. Each test collects every mismatch and leak of its piece, checks
that its piece exercised every route the route table gives its probe, and records its size
(``record_property``) for the tally printed at the end of the run (``summary.py``)."""

from __future__ import annotations

import time

import pytest

from tests.authz import declare as d
from tests.authz import (
    harness,
    probes_analytics,
    probes_api,
    probes_automation,
    probes_golive,
    probes_lists,
    probes_notifications,
    probes_reports,
    probes_tasks,
    probes_webhooks,
    routes,
    summary,
)

# Every probe of the route table once, in table order, with the routes it must exercise.
PROBES = list(dict.fromkeys(p for r in routes.RECORD_ROUTES.values() for p in r.probes))
PIECES = [(actor, probe) for actor in d.ACTORS for probe in PROBES]


def _report(run: harness.Run) -> str:
    wrong = [c for c in run.cases if not c.ok]
    lines = [f"{len(wrong)} of {len(run.cases)} cases differ from the oracle:"]
    lines += [f"  {c}" for c in wrong[:200]]
    if run.leaks:
        lines.append(f"{len(run.leaks)} leaks:")
        lines += [f"  {x}" for x in run.leaks[:200]]
    return "\n".join(lines)


def _finish(run: harness.Run, started: float, expected_routes: set[str], record) -> None:
    run.seconds = time.perf_counter() - started
    record(summary.PROPERTY, summary.tally(run))
    missing = expected_routes - run.exercised
    assert not missing, f"routes in the table that the matrix did not exercise: {sorted(missing)}"
    assert all(c.ok for c in run.cases) and not run.leaks, _report(run)


@pytest.mark.parametrize(
    ("actor", "probe"), PIECES, ids=[f"{a}-{p.__name__.removeprefix('probe_')}" for a, p in PIECES]
)
def test_matrix(world, actor, probe, record_property):
    started = time.perf_counter()
    run = harness.Run(world, actor)
    for entity in d.ENTITY_ORDER:
        probe(run, entity)
        run.finish_group(f"{probe.__name__} {entity}")
    expected = {e for e, route in routes.RECORD_ROUTES.items() if probe in route.probes}
    _finish(run, started, expected, record_property)


@pytest.mark.parametrize("actor", list(d.ACTORS))
def test_matrix_home_and_administration_gates(world, actor, record_property):
    started = time.perf_counter()
    run = harness.Run(world, actor)
    probes_lists.probe_home(run)
    probes_lists.probe_job_page(run)
    probes_golive.probe_golive(run)
    probes_tasks.probe_my_tasks(run)
    probes_automation.probe_rule_try(run)
    probes_webhooks.probe_webhooks(run)
    probes_notifications.probe_notifications(run)
    probes_notifications.probe_outbox(run)
    probes_analytics.probe_analytics(run)
    probes_reports.probe_saved_reports(run)
    probes_api.probe_api_tokens(run)
    for rule in world.app.url_map.iter_rules():
        right = routes.ADMIN_BLUEPRINTS.get(rule.endpoint.split(".")[0])
        if right:
            routes.probe_gate(run, rule.endpoint, rule, right)
    table = routes.route_table(world.app)
    expected = set(table) - set(routes.RECORD_ROUTES)
    _finish(run, started, expected, record_property)


def test_the_pieces_cover_the_whole_route_table(world):
    """The pieces above, together, exercise every route of the table for every actor: each
    runtime route has a probe, and everything else is the home page or a gated route."""
    table = routes.route_table(world.app)
    without_probe = [e for e, r in routes.RECORD_ROUTES.items() if not r.probes]
    assert not without_probe, f"runtime routes with no probe: {without_probe}"
    others = set(table) - set(routes.RECORD_ROUTES)
    ungated = others - set(routes.OTHER_ROUTES) - {e for e, r in table.items() if r.right}
    assert not ungated, f"routes neither probed nor gated: {sorted(ungated)}"
