"""The authorization matrix: every role x entity x route x record position, over HTTP,
against the oracle. One test per actor; each collects every mismatch and leak."""

from __future__ import annotations

import time

import pytest

from tests.authz import declare as d
from tests.authz import matrix as m
from tests.authz.summary import RUNS


def _report(run: m.Run) -> str:
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
    run = m.Run(world, actor)
    probes = list(dict.fromkeys(p for r in m.RECORD_ROUTES.values() for p in r.probes))
    for entity in d.ENTITY_ORDER:
        for probe in probes:
            probe(run, entity)
            run.finish_group(f"{probe.__name__} {entity}")
    m.probe_home(run)
    for rule in world.app.url_map.iter_rules():
        right = m.ADMIN_BLUEPRINTS.get(rule.endpoint.split(".")[0])
        if right:
            m.probe_gate(run, rule.endpoint, rule, right)
    run.seconds = time.perf_counter() - started
    RUNS.append(run)
    missing = set(m.route_table(world.app)) - run.exercised
    assert not missing, f"routes in the table that the matrix did not exercise: {sorted(missing)}"
    assert all(c.ok for c in run.cases) and not run.leaks, _report(run)
