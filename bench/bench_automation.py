"""Automation rules benchmarks (issue 17).

- the overhead of rules on saving a record: median per save (``records.merge_update``
  changing one field, each save in a request context of its own, the job queue in its
  normal, non-immediate mode: the save commits and hands its one job to Huey) with no
  rule, and with 10 rules matching the change;
- rules processed per second by one worker: the jobs those saves queued, run one after
  the other (each rule: trigger, conditions in SQL, one "set" action, its run log);
- the scheduled "no activity for 30 days" rule over ``BENCH_ROWS`` records (default
  100,000; the lead runs 1,000,000), 30 % of them with an activity: time and statements
  of the first run (marks up to ``schedule.MAX_FIRED_PER_RUN`` quiet records fired and
  queues their batches), how many runs catch up with the backlog and the slowest of them,
  and the steady-state run after it (nothing new to fire: what every periodic run costs).

Environment: BENCH_ROWS, BENCH_SAVES (default 300), BENCH_ONLY ("save", "schedule";
default both), BENCH_SQL=1 (print the scheduled statement and its plan), BENCH_DATABASES
(default "sqlite,postgresql"; PostgreSQL skipped when not reachable).
Targets: save overhead <= 2 ms with 10 rules; scheduled run <= 5 s at 1,000,000 records.
"""

from __future__ import annotations

import os
import random
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import event, func, select

from bench.common import app_on, database, run_on_databases
from crm.access.models import User
from crm.automation import schedule
from crm.automation import spec as rule_specs
from crm.automation.models import AutomationRule, RuleRun
from crm.extensions import db
from crm.jobs import outbox, runner
from crm.jobs.models import QUEUED, Job
from crm.metadata import specs
from crm.metadata.versioning import bump_version
from crm.records import service as records
from crm.schema import service as schema
from crm.timeutil import utcnow
from crm.uow import unit_of_work

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
SAVES = int(os.environ.get("BENCH_SAVES", "300"))
ONLY = {p for p in os.environ.get("BENCH_ONLY", "save,schedule").split(",") if p}


@contextmanager
def counting():
    """Count the statements sent to the database inside the block (``box[0]``)."""
    box = [0]

    def count(*_args, **_kwargs):
        box[0] += 1

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield box
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _admin() -> User:
    user = User(email="bench@example.com", display_name="Bench", password_hash="x",
                is_admin=True)  # fmt: skip
    db.session.add(user)
    db.session.commit()
    return user


def _rules(owner: User, n: int, trigger: dict, actions: list[dict]) -> None:
    for i in range(n):
        db.session.add(
            AutomationRule(
                key=f"bench_{trigger['type']}_{i}",
                entity_key="deal",
                name=f"Bench {i}",
                description="",
                enabled=True,
                trigger=trigger,
                conditions=[],
                actions=actions,
                position=i,
                owner_id=owner.id,
            )
        )
    bump_version()
    db.session.commit()


DISPATCH: list[float] = []  # seconds each hand-over of a committed job to Huey took


@contextmanager
def timing_dispatch():
    """Time ``crm.jobs.outbox.dispatch`` (the hand-over to the queue after the commit)."""
    real = outbox.dispatch

    def timed_dispatch(job_id: int) -> bool:
        start = time.perf_counter()
        try:
            return real(job_id)
        finally:
            DISPATCH.append(time.perf_counter() - start)

    outbox.dispatch = timed_dispatch
    try:
        yield
    finally:
        outbox.dispatch = real


def _save(app, user_id: int, entity: str, record_id: int, value: int) -> float:
    """One save in a request of its own (its own app context: ``g`` and the session are
    per request, as in the web app); returns the seconds the save took."""
    with app.app_context(), app.test_request_context("/"):
        user = db.session.get(User, user_id)
        spec = specs.current().entity(entity)
        row = records.get(user, spec, record_id)
        start = time.perf_counter()
        records.merge_update(user, spec, record_id, None, {"amount": str(value)},
                             expected_version=row["version"])  # fmt: skip
        return time.perf_counter() - start


def _median_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[len(ordered) // 2] * 1000, 3)


FIELDS = [
    {"key": "title", "type": "text", "label": "Title"},
    {"key": "amount", "type": "integer", "label": "Amount"},
    {"key": "note", "type": "text", "label": "Note"},
]


def _save_overhead(app) -> dict:
    """Saves of two identical entities, interleaved (the machine's noise falls on both):
    "plain" has no rule, "deal" 10 rules matching every save."""
    user = _admin()
    ids = {}
    for entity in ("plain", "deal"):
        schema.create_entity(entity, entity.title(), fields=FIELDS, name_field="title")
        ids[entity] = records.create(user, specs.current().entity(entity), {"title": "B"})
    _rules(user, 10, {"type": "changed", "field": "amount"},
           [{"type": "set", "values": {"note": "seen"}}])  # fmt: skip
    uid = user.id
    db.session.rollback()  # the outer session holds no transaction while the requests run
    samples: dict[str, list[float]] = {"plain": [], "deal": []}
    DISPATCH.clear()
    with timing_dispatch():
        for i in range(SAVES + 20):
            for entity in ("plain", "deal"):
                spent = _save(app, uid, entity, ids[entity], i + 1)
                if i >= 20:  # the first ones warm up
                    samples[entity].append(spent)
    queued = list(db.session.scalars(select(Job.id).where(Job.status == QUEUED).order_by(Job.id)))
    start = time.perf_counter()
    for job_id in queued:
        runner.run(job_id)
    spent = time.perf_counter() - start
    db.session.rollback()
    done = db.session.scalar(select(func.count()).select_from(RuleRun))
    none, ten = _median_ms(samples["plain"]), _median_ms(samples["deal"])
    return {
        "save_median_ms_no_rule": none,
        "save_median_ms_10_rules": ten,
        "save_overhead_ms_10_rules": round(ten - none, 3),
        # of which: handing the committed job to Huey (SqliteHuey here: a write to its own
        # file; RedisHuey in production)
        "dispatch_median_ms": _median_ms(DISPATCH[20:]),
        "jobs_queued_by_10_rule_saves": len(queued),
        "rules_processed": done,
        "rules_per_second": round(done / spent, 1) if spent else None,
    }


def _fill(kind: str, user_id: int, rows: int) -> float:
    """``rows`` deals created over two years, an activity on 30 % of them."""
    rnd = random.Random(17)
    now = utcnow()
    deal_rows, activity_rows = [], []
    for i in range(1, rows + 1):
        created = now - timedelta(minutes=rnd.randint(0, 2 * 365 * 24 * 60))
        deal_rows.append((i, user_id, created, created, f"Deal {i}", 1))
        if rnd.random() < 0.3:
            when = now - timedelta(minutes=rnd.randint(0, 90 * 24 * 60))
            activity_rows.append(("deal", i, "call", "Call", "", "", when, user_id, when))
    start = time.perf_counter()
    raw = db.session.connection().connection.dbapi_connection
    mark = "%s" if kind == "postgresql" else "?"
    cur = raw.cursor()
    # fixed statements: only the driver's placeholder mark is put in
    deal_sql = "INSERT INTO x_deal (id, owner_id, created_at, updated_at, title, version) VALUES "
    act_sql = (
        "INSERT INTO activities (entity_key, record_id, kind, subject, outcome, notes, "
        "happened_at, user_id, created_at) VALUES "
    )
    deal_sql += "(" + ", ".join([mark] * 6) + ")"
    act_sql += "(" + ", ".join([mark] * 9) + ")"
    for begin in range(0, len(deal_rows), 50_000):
        cur.executemany(deal_sql, deal_rows[begin : begin + 50_000])
    for begin in range(0, len(activity_rows), 50_000):
        cur.executemany(act_sql, activity_rows[begin : begin + 50_000])
    db.session.commit()
    if kind == "postgresql":
        db.session.execute(db.text("SELECT setval('x_deal_id_seq', (SELECT max(id) FROM x_deal))"))
        db.session.execute(db.text("ANALYZE x_deal"))
        db.session.execute(db.text("ANALYZE activities"))
        db.session.commit()
    return time.perf_counter() - start


def _scheduled(kind: str) -> dict:
    schema.create_entity("deal", "Deal", fields=[
        {"key": "title", "type": "text", "label": "Title"},
    ], name_field="title")  # fmt: skip
    user = _admin()
    out = {"rows": ROWS, "fill_s": round(_fill(kind, user.id, ROWS), 1)}
    _rules(user, 1, {"type": "held", "what": "no_activity", "days": 30},
           [{"type": "set", "values": {"title": "quiet"}}])  # fmt: skip
    (rule,) = rule_specs.scheduled_rules()
    # The first run; then the runs that drain the backlog (at most MAX_FIRED_PER_RUN
    # records fire per run); then a steady run, with nothing new to fire: what every
    # periodic run costs once the rule has caught up.
    runs: list[tuple[float, int, int]] = []
    while True:
        with counting() as statements:
            start = time.perf_counter()
            with unit_of_work():
                fired = schedule.fire(rule, datetime.now())
            spent = time.perf_counter() - start
        runs.append((spent, statements[0], len(fired)))
        if not fired:
            break
    first, steady = runs[0], runs[-1]
    out["cap_per_run"] = schedule.MAX_FIRED_PER_RUN
    out["first_run_s"], out["first_run_statements"], out["first_run_fired"] = first
    out["first_run_s"] = round(first[0], 3)
    out["runs_to_catch_up"] = len(runs) - 1
    out["slowest_run_s"] = round(max(r[0] for r in runs), 3)
    out["fired_in_all"] = sum(r[2] for r in runs)
    out["steady_run_s"], out["steady_run_statements"] = round(steady[0], 3), steady[1]
    return out


def run(kind: str) -> dict:
    out: dict = {}
    if "save" in ONLY:
        with database(kind) as url, app_on(url) as app:
            out.update(_save_overhead(app))
    if "schedule" in ONLY:
        with database(kind) as url, app_on(url):
            out.update(_scheduled(kind))
    return out


def main() -> None:
    run_on_databases("automation", run, ROWS)


if __name__ == "__main__":
    main()
