"""The matrix's tally: each piece of ``test_matrix.py`` records its size as a user property
of its report (which pytest-xdist carries from the workers), and ``write`` prints the sum at
the end of the run (called from ``tests/conftest.py``'s ``pytest_terminal_summary``)."""

from __future__ import annotations

PROPERTY = "authz_matrix"


def tally(run) -> dict:
    """What a piece did, as plain data (it travels between processes)."""
    wrong = [c for c in run.cases if not c.ok]
    allow = sum(1 for c in wrong if c.observed is True)
    deny = sum(1 for c in wrong if c.observed is False)
    return {
        "actor": run.actor,
        "cases": len(run.cases),
        "requests": run.requests,
        "seconds": run.seconds,
        "allows": allow,
        "denials": deny,
        "neither": len(wrong) - allow - deny,
        "leaks": len(run.leaks),
        "routes": sorted(run.exercised),
    }


def _tallies(terminalreporter) -> list[dict]:
    out = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            out += [v for k, v in getattr(report, "user_properties", ()) if k == PROPERTY]
    return out


def write(terminalreporter) -> None:
    """How big the authorization matrix was and what it found (when it ran)."""
    from tests.authz import declare as d

    tallies = _tallies(terminalreporter)
    if not tallies:
        return
    tr = terminalreporter
    tr.section("authorization matrix")
    actors = sorted({t["actor"] for t in tallies}, key=list(d.ACTORS).index)
    routes = set().union(*(t["routes"] for t in tallies))
    tr.write_line(
        f"{len(actors)} actors ({len(d.ROLES)} roles, one holding two, one full administrator)"
        f" x {len(d.ENTITIES)} entities x {len(routes)} routes x positions "
        f"({len(d.RECORD_POSITIONS)} per single-record route; every one of the "
        f"{len(d.SLOTS)} live and {len(d.SLOTS)} binned records for list-like routes), "
        f"in {len(tallies)} tests"
    )
    keys = ("cases", "requests", "seconds", "allows", "denials", "neither", "leaks")
    totals = dict.fromkeys(keys, 0)
    for actor in actors:
        mine = [t for t in tallies if t["actor"] == actor]
        sums = {k: sum(t[k] for t in mine) for k in keys}
        tr.write_line(
            f"{actor:8} {sums['cases']:6} cases, {sums['requests']:5} requests, "
            f"{sums['seconds']:5.1f}s: {sums['allows']} unexpected allows, "
            f"{sums['denials']} unexpected denials, {sums['neither']} neither, "
            f"{sums['leaks']} leaks"
        )
        for k in keys:
            totals[k] += sums[k]
    problems = totals["allows"] + totals["denials"] + totals["neither"] + totals["leaks"]
    tr.write_line(
        f"all      {totals['cases']:6} cases, {totals['requests']:5} requests, "
        f"{totals['seconds']:5.1f}s: {problems} problems"
    )
