"""The authorization matrix: every role x entity x route x record position, over HTTP,
against the oracle. One test per actor; each collects every mismatch and leak."""

from __future__ import annotations

import time

import pytest

from tests.authz import declare as d
from tests.authz import harness, probes_lists, routes
from tests.authz.summary import RUNS


def _report(run: harness.Run) -> str:
    wrong = [c for c in run.cases if not c.ok]
    lines = [f"{len(wrong)} of {len(run.cases)} cases differ from the oracle:"]
    lines += [f"  {c}" for c in wrong[:200]]
    if run.leaks:
        lines.append(f"{len(run.leaks)} leaks:")
        lines += [f"  {x}" for x in run.leaks[:200]]
    return "\n".join(lines)


@pytest.mark.parametrize("actor", list(d.ACTORS))
def test_matrix(world, actor):
    started = time.perf_counter()
    run = harness.Run(world, actor)
    probes = list(dict.fromkeys(p for r in routes.RECORD_ROUTES.values() for p in r.probes))
    for entity in d.ENTITY_ORDER:
        for probe in probes:
            probe(run, entity)
            run.finish_group(f"{probe.__name__} {entity}")
    probes_lists.probe_home(run)
    for rule in world.app.url_map.iter_rules():
        right = routes.ADMIN_BLUEPRINTS.get(rule.endpoint.split(".")[0])
        if right:
            routes.probe_gate(run, rule.endpoint, rule, right)
    run.seconds = time.perf_counter() - started
    RUNS.append(run)
    missing = set(routes.route_table(world.app)) - run.exercised
    assert not missing, f"routes in the table that the matrix did not exercise: {sorted(missing)}"
    assert all(c.ok for c in run.cases) and not run.leaks, _report(run)
