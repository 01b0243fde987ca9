"""Probes of customer pools (crm/pools). The world has no pool, so these check the refusals
and that nothing leaks or changes: a claim of a record in each position is refused (409 "has
an owner" only where the actor reads the record, else 404; 403 without the entity's read
right), a pool's list does not exist, and a return to a pool finds none. What pools let
people do is tested in tests/pools (the pool scope, claims, returns, the screens)."""

from __future__ import annotations

from tests.authz import oracle
from tests.authz.harness import Run
from tests.authz.probes_lists import positions


def _untouched(run: Run, entity: str, record_id: int) -> bool:
    w = run.world
    return (
        w.row(entity, record_id) == w.snapshot_row(entity, record_id)
        and run.counters() == w.snapshot_counters
    )


def probe_claim(run: Run, entity: str) -> None:
    a = run.actor
    for position, rec in positions(run, entity):
        r = run.post(f"/r/{entity}/{rec.id}/claim", {}, hx=True)
        readable = rec.live and oracle.may(a, "read", rec.rec)
        allowed_status = (409,) if readable else (403, 404)
        refused = r.status_code in allowed_status and _untouched(run, entity, rec.id)
        run.case(
            "pools.claim", entity, position, False, False if refused else None,
            f"(HTTP {r.status_code})",
        )  # fmt: skip


def probe_pool_list(run: Run, entity: str) -> None:
    r = run.get(f"/r/{entity}/pools/nosuchpool/")
    run.read_case("pools.pool_list", entity, "entity", False, r)


def probe_pool_return(run: Run, entity: str) -> None:
    for position, rec in positions(run, entity):
        form = {"pick": [f"{rec.id}:1"], "note": "probe"}
        r = run.post(f"/r/{entity}/pools/return", form, hx=True)
        refused = r.status_code in (403, 404) and _untouched(run, entity, rec.id)
        run.case(
            "pools.return_records", entity, position, False, False if refused else None,
            f"(HTTP {r.status_code})",
        )  # fmt: skip


def probe_pool_claim_many(run: Run, entity: str) -> None:
    for position, rec in positions(run, entity):
        r = run.post(f"/r/{entity}/pools/nosuchpool/claim", {"pick": [str(rec.id)]}, hx=True)
        refused = r.status_code in (403, 404) and _untouched(run, entity, rec.id)
        run.case(
            "pools.claim_many", entity, position, False, False if refused else None,
            f"(HTTP {r.status_code})",
        )  # fmt: skip
