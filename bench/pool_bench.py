"""Customer pools (issue 18): claim throughput under concurrent claimers, and no claim over
the limit.

``BENCH_POOL_RECORDS`` (default 20,000) ownerless accounts in one pool with a daily limit of
``BENCH_POOL_LIMIT`` (default 100) claims per person; ``BENCH_POOL_CLAIMERS`` (default 20)
reps, each in a thread of its own with its own session and database connection, released
at once, each trying ``BENCH_POOL_ATTEMPTS`` (default 2 x the limit) claims of records
drawn at random from the whole pool (so reps collide on records: "someone else claimed
it") through ``crm.pools.service.claim``, the race-safe claim the Claim button calls.
Reported: claims per second (claimed and attempted), the claim latency (median and p99,
wall clock, taken under that contention), the refusals by kind; then the check, read
from the database after the run: nobody holds more than the limit, each person's counter
equals the records they hold and their claim log rows, and every record is either
claimed or still in the pool (none lost, none in both).

A second round, ``hot``: all claimers at once on the same ``BENCH_POOL_HOT`` (default 50)
records, one after the other in the same order: each record has exactly one winner.

PostgreSQL by default (``BENCH_DATABASES=sqlite,postgresql`` adds SQLite, where one
writer at a time serialises every claim). Results in ``bench/results/pool.json``.
"""

from __future__ import annotations

import os
import random
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, insert, select

from app import create_app
from bench.common import database, postgres_available, save
from crm.access import policy as P
from crm.access.models import User
from crm.errors import Conflict, DomainError, NotFound
from crm.extensions import db
from crm.metadata import specs
from crm.pools import config, service
from crm.pools.models import MANUAL, PoolClaim, PoolClaimCount, PoolEntry
from crm.schema import service as schema
from tests.factories import make_role, make_user

RECORDS = int(os.environ.get("BENCH_POOL_RECORDS", "20000"))
LIMIT = int(os.environ.get("BENCH_POOL_LIMIT", "100"))
CLAIMERS = int(os.environ.get("BENCH_POOL_CLAIMERS", "20"))
ATTEMPTS = int(os.environ.get("BENCH_POOL_ATTEMPTS", str(2 * LIMIT)))
HOT = int(os.environ.get("BENCH_POOL_HOT", "50"))


def _fill(admin) -> tuple[list[int], list[int]]:
    """The entity, the pool, the reps and the pooled records; returns (user ids, record ids)."""
    schema.create_entity(
        "account",
        "Account",
        fields=[{"key": "name", "type": "text", "label": "Name", "required": True}],
        name_field="name",
    )
    make_role("Rep", {"read": P.OWN, "edit": P.OWN, "create": P.ALL})
    users = [
        make_user(f"rep{i}@example.com", display_name=f"Rep {i}", roles=("Rep",)).id
        for i in range(CLAIMERS)
    ]
    pool_id = config.save(
        admin,
        {"key": "open", "entity_key": "account", "name": "Open sea", "enabled": True,
         "daily_limit": str(LIMIT)},
    )  # fmt: skip
    specs.forget_request_specs()
    table = specs.current().table("account")
    ids: list[int] = []
    for start in range(0, RECORDS + HOT, 5000):
        chunk = [{"name": f"Company {i}"} for i in range(start, min(start + 5000, RECORDS + HOT))]
        ids.extend(db.session.execute(insert(table).returning(table.c.id), chunk).scalars())
    db.session.execute(
        insert(PoolEntry),
        [
            {"pool_id": pool_id, "entity_key": "account", "record_id": i, "reason": MANUAL}
            for i in ids
        ],
    )
    db.session.commit()
    return users, ids


def _kind(exc: DomainError) -> str:
    text = exc.message
    if "today" in text:
        return "over_limit"
    if "just now" in text or "no longer in the pool" in text or "has an owner" in text:
        return "taken"
    return f"{type(exc).__name__}: {text[:80]}"


def _run(app, plan: dict[int, list[int]]) -> dict:
    """Each user claims their list of records in a thread of their own, all released at
    once; returns the outcomes and the timings."""
    barrier = threading.Barrier(len(plan))
    lock = threading.Lock()
    latencies: list[float] = []
    outcomes: Counter = Counter()
    won: dict[int, list[int]] = {}

    def one(user_id: int, record_ids: list[int]) -> None:
        with app.app_context():
            try:
                user = db.session.get(User, user_id)
                spec = specs.current().entity("account")
                db.session.commit()
                mine, times, kinds = [], [], Counter()
                barrier.wait(timeout=120)
                for record_id in record_ids:
                    t0 = time.perf_counter()
                    try:
                        # one request per claim, as the Claim button makes: the specs'
                        # version is read once in it
                        with app.test_request_context():
                            spec = specs.current().entity("account")
                            service.claim(user, spec, record_id)
                        kinds["claimed"] += 1
                        mine.append(record_id)
                    except NotFound as exc:  # owned meanwhile: no longer theirs to read
                        exc.message = "no longer in the pool"
                        kinds[_kind(exc)] += 1
                    except Conflict as exc:
                        kinds[_kind(exc)] += 1
                    finally:
                        db.session.rollback()
                    times.append(time.perf_counter() - t0)
                with lock:
                    latencies.extend(times)
                    outcomes.update(kinds)
                    won[user_id] = mine
            finally:
                db.session.remove()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(plan)) as pool:
        list(pool.map(lambda item: one(*item), plan.items()))
    took = time.perf_counter() - start
    latencies.sort()
    attempts = sum(len(v) for v in plan.values())
    return {
        "seconds": round(took, 2),
        "attempts": attempts,
        "outcomes": dict(outcomes),
        "claims_per_s": round(outcomes["claimed"] / took, 1),
        "attempts_per_s": round(attempts / took, 1),
        "latency_median_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "_won": won,
    }


def _verify(users: list[int], ids: list[int]) -> dict:
    """Read back from the database: nobody over the limit, counters and claim log equal to
    what each holds, every record claimed or in the pool, never both or neither."""
    db.session.rollback()
    table = specs.current().table("account")
    held = dict(
        db.session.execute(
            select(table.c.owner_id, func.count())
            .where(table.c.owner_id.is_not(None))
            .group_by(table.c.owner_id)
        ).all()
    )
    counters = dict(
        db.session.execute(
            select(PoolClaimCount.user_id, func.sum(PoolClaimCount.claimed)).group_by(
                PoolClaimCount.user_id
            )
        ).all()
    )
    log = dict(
        db.session.execute(
            select(PoolClaim.user_id, func.count()).group_by(PoolClaim.user_id)
        ).all()
    )
    in_pool = db.session.scalar(select(func.count()).select_from(PoolEntry))
    owned_and_pooled = db.session.scalar(
        select(func.count())
        .select_from(table.join(PoolEntry, PoolEntry.record_id == table.c.id))
        .where(table.c.owner_id.is_not(None))
    )
    over = {u: n for u, n in held.items() if n > LIMIT}
    mismatched = [
        u
        for u in users
        if held.get(u, 0) != int(counters.get(u) or 0) or held.get(u, 0) != log.get(u, 0)
    ]
    return {
        "max_held": max(held.values(), default=0),
        "over_limit_people": len(over),
        "over_limit_claims": sum(n - LIMIT for n in over.values()),
        "counter_or_log_mismatches": len(mismatched),
        "claimed": sum(held.values()),
        "still_in_pool": in_pool,
        "lost_records": len(ids) - sum(held.values()) - in_pool,
        "owned_and_pooled": owned_and_pooled,
    }


def run(kind: str) -> dict:
    out: dict = {"records": RECORDS, "claimers": CLAIMERS, "limit": LIMIT, "attempts": ATTEMPTS}
    with database(kind) as url, tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "INSTANCE_PATH": tmp,
                "SECRET_KEY": "bench",
                # one connection per claimer, as separate workers would hold
                "SQLALCHEMY_ENGINE_OPTIONS": {
                    "pool_pre_ping": True,
                    **({"pool_size": CLAIMERS + 2, "max_overflow": 4} if kind != "sqlite" else {}),
                },
            }
        )
        with app.app_context():
            try:
                admin = make_user("bench@example.com", is_admin=True)
                t0 = time.perf_counter()
                users, ids = _fill(admin)
                out["fill_s"] = round(time.perf_counter() - t0, 2)
                spread, hot = ids[:RECORDS], ids[RECORDS:]
                rnd = random.Random(18)
                plan = {u: rnd.sample(spread, min(ATTEMPTS, len(spread))) for u in users}
                result = _run(app, plan)
                result.pop("_won")
                out["spread"] = result
                out["check"] = _verify(users, ids)
                # the hot round: everyone on the same records, in the same order (the
                # limit resets for it: new counters for a new day are not needed, the
                # limit is raised instead)
                config.save(
                    admin,
                    {"name": "Open sea", "enabled": True, "daily_limit": "0"},
                    db.session.scalar(select(PoolEntry.pool_id).limit(1)),
                )
                specs.forget_request_specs()
                hot_run = _run(app, {u: list(hot) for u in users})
                won = hot_run.pop("_won")
                winners = Counter(r for rs in won.values() for r in rs)
                hot_run["records"] = len(hot)
                hot_run["records_with_one_winner"] = sum(1 for r in hot if winners[r] == 1)
                hot_run["records_with_two_or_more"] = sum(1 for r in hot if winners[r] > 1)
                out["hot"] = hot_run
                after = _verify(users, ids)  # no limit in this round: over-limit means nothing
                out["check_after_hot"] = {k: v for k, v in after.items() if "over" not in k}
            finally:
                db.session.remove()
                db.engine.dispose()
    return out


def main() -> None:
    results: dict = {}
    kinds = [k for k in os.environ.get("BENCH_DATABASES", "postgresql").split(",") if k]
    for kind in kinds:
        if kind == "postgresql" and not postgres_available():
            print("PostgreSQL not available: skipped")
            continue
        print(
            f"--- pool: {CLAIMERS} claimers, limit {LIMIT}, {RECORDS:,} records on {kind} ---",
            flush=True,
        )
        results[kind] = run(kind)
        for key, value in results[kind].items():
            print(f"{key:>24}: {value}")
        check = results[kind]["check"]
        if check["over_limit_claims"] or check["lost_records"] or check["owned_and_pooled"]:
            raise SystemExit(f"pool bench: the check failed on {kind}: {check}")
    print(f"written to {save('pool', results)}")
