"""Configuration packages (issue 15): export, plan and apply.

The "largest starter" is the B2B sales starter (``schemas/starters/b2b-sales.json``,
``crm.demo.STARTER``: the demo company's configuration, as ``make run`` installs it; 5
entities, their fields, pipelines, layouts, translations, roles and shared views), called
"demo" in the figures; beside it a synthetic package of 50 entities × 100 fields (the field
mix of ``bench.schema_bench``), created through the schema service and exported. Applies
run as an administrator of the installation (a package's roles are changed as a user).

- ``export_50x100``: ``export_package`` of an installation of 50 entities × 100 fields
  (median of BENCH_RUNS, default 20);
- ``empty``: into an empty installation (migrated, no entities), for each package: plan =
  load (parse, JSON Schema, references) + ``plan_package`` + limiting it to what apply
  applies (as the command line does), median of BENCH_RUNS (read only); apply =
  ``crm.packages.apply.apply`` of that plan, once per fresh installation,
  BENCH_APPLY_RUNS (default 3) installations;
- ``big``: the same for the demo package into an installation holding BENCH_ROWS
  (default 1,000,000) records in an unrelated entity ``ledger`` (COPY on PostgreSQL,
  executemany on SQLite). The package carries ``ledger`` as the installation has it (a
  package is a whole configuration: one without it would plan to archive ledger), so the
  plan compares it and changes nothing there. Then, separately, a second version of the
  package that CHANGES ledger (three new fields, the entity and one field relabelled):
  plan three-way against the provenance the first apply recorded, apply reported.

Each figure by wall clock and CPU (this process, plus on PostgreSQL the server processes
serving the benchmark's database: ``bench.board_bench.Clock``). BENCH_CLOCK=cpu makes CPU
the headline. Targets (issue 15): plan ≤ 1 s, export ≤ 1 s, apply of new entities ≤ 5 s.

BENCH_KEEP_DB=1 keeps the filled database (``bench/data/package_<rows>.sqlite``,
PostgreSQL ``atelier_bench_package_<rows>``) untouched: each run applies to a copy of it
(a file copy; ``CREATE DATABASE ... TEMPLATE``). Results: ``bench/results/package.json``,
merged per engine.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bench.board_bench import Clock
from bench.common import (
    PG_SERVER,
    RESULTS,
    app_on,
    database,
    keep_databases,
    postgres_available,
    save,
)
from bench.schema_bench import FIELDS
from crm.extensions import db
from crm.metadata import specs
from crm.packages.apply import apply, plan_package
from crm.packages.export import dumps, export_package
from crm.packages.load import load
from crm.schema import service as schema

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
APPLY_RUNS = int(os.environ.get("BENCH_APPLY_RUNS", "3"))
HEADLINE = "cpu" if os.environ.get("BENCH_CLOCK") == "cpu" else "wall"
TARGETS = {"plan_s": 1.0, "export_s": 1.0, "apply_new_s": 5.0}
BIG = "ledger"


# --- clocks ---------------------------------------------------------------------------------


def _clock(url: str) -> Clock:
    return Clock(url if url.startswith("postgresql") else None)


def _cpu(clock: Clock) -> dict[int, float]:
    """CPU seconds of this process (key 0) and of each server process of the database."""
    clock.refresh()
    out = {0: time.process_time()}
    for pid in clock.pids:
        with contextlib.suppress(OSError):  # gone since the lookup
            out[pid] = time.clock_gettime(((~pid) << 3) | 2)  # CPUCLOCK_SCHED of ``pid``
    return out


def _sample(clock: Clock, fn: Callable[[], object]) -> tuple[float, float, object]:
    """Wall and CPU seconds of ``fn()``: a server process that appeared meanwhile counts
    from zero (it was started for the sample)."""
    before = _cpu(clock)
    w0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - w0
    after = _cpu(clock)
    cpu = sum(v - before.get(pid, 0.0) for pid, v in after.items())
    return wall, max(cpu, 0.0), out


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median_s": round(statistics.median(ordered), 4),
        "max_s": round(ordered[-1], 4),
    }


def _figures(wall: list[float], cpu: list[float]) -> dict:
    both = {"wall": _stats(wall), "cpu": _stats(cpu)}
    return {"median_s": both[HEADLINE]["median_s"], **both}


def _repeat(clock: Clock, fn: Callable[[], object], n: int) -> dict:
    wall, cpu = [], []
    for _ in range(n):
        w, c, _out = _sample(clock, fn)
        wall.append(w)
        cpu.append(c)
    return _figures(wall, cpu)


# --- packages -------------------------------------------------------------------------------


def _demo_package() -> dict:
    """The demo company's configuration, as ``make run`` installs it: the B2B sales starter
    (``crm.demo.STARTER``), the largest built-in starter."""
    from crm import demo

    return json.loads(demo.STARTER.read_text(encoding="utf-8"))


def _actor_id() -> int:
    """An administrator of this installation to apply as (a package's roles are changed
    as a user, under the access layer's rules); made when there is none."""
    from crm.access.models import User
    from crm.auth import service as auth

    found = db.session.scalar(select(User.id).where(User.is_admin.is_(True)).limit(1))
    if found is None:
        found = auth.create_first_admin(
            email="bench-admin@example.com", display_name="Bench Admin", password="bench-pass-123"
        ).id
    db.session.commit()
    return found


def _field(i: int) -> dict:
    template = FIELDS[i % len(FIELDS)]
    extra = {"choices": template["choices"]} if "choices" in template else {}
    return {"key": f"field_{i}", "type": template["type"], "label": f"Field {i}", **extra}


def _make_50x100() -> None:
    with schema.change() as c:
        for e in range(50):
            c.create_entity(f"entity_{e}", f"Entity {e}", fields=[_field(i) for i in range(100)])


def _sizes(package: dict) -> dict:
    entities = package.get("entities") or {}
    return {
        "entities": len(entities),
        "fields": sum(len(e.get("fields") or {}) for e in entities.values()),
        "pipelines": sum(len(e.get("pipelines") or {}) for e in entities.values()),
        "layouts": sum(len(e.get("layouts") or {}) for e in entities.values()),
        "list_views": sum(len(e.get("list_views") or {}) for e in entities.values()),
        "roles": len(package.get("roles") or {}),
        "bytes": len(dumps(package).encode("utf-8")),
    }


def _plan(data: bytes):
    """What ``crm package plan`` does: load against this installation, then plan."""
    package = load(data, filename="package.json", existing=specs.raw().entities)
    p = plan_package(package.data)
    db.session.rollback()  # read only
    return p


def _plan_and_apply(clock: Clock, data: bytes, runs: int, out: dict, prefix: str) -> None:
    """Plan ``runs`` times (read only), then apply once; figures into ``out``."""

    def plan_once():
        return _plan(data)

    out[f"{prefix}_plan"] = _repeat(clock, plan_once, runs)
    actor_id = _actor_id()
    p = _plan(data)
    out[f"{prefix}_steps"] = len(p.steps())
    out[f"{prefix}_conflicts"] = len(p.conflicts)
    wall, cpu, result = _sample(clock, lambda: apply(p, actor_id=actor_id))
    assert result.changed, prefix
    out[f"{prefix}_apply"] = {"wall_s": round(wall, 4), "cpu_s": round(cpu, 4)}
    again = _plan(data)
    assert again.empty, f"{prefix}: planning the applied package again is not empty"


# --- the 1M-record installation -------------------------------------------------------------


def _fill(kind: str, rows: int) -> float:
    """``rows`` records in ``x_ledger`` (COPY on PostgreSQL, executemany on SQLite)."""
    rnd = random.Random(42)
    base = datetime(2020, 1, 1)
    cities = ["Berlin", "São Paulo", "上海", "Lyon", "Austin", "Kraków", "Osaka"]

    def row(i: int) -> tuple:
        t = (base + timedelta(minutes=i)).isoformat(sep=" ")
        return (
            rnd.randint(1, 200), t, t, f"Company {i}", f"c{i}@example.com",
            f"+49 30 {i:07d}", rnd.choice(cities), "DE",
            f"{rnd.randint(0, 10**7)}.{rnd.randint(0, 99):02d}", rnd.randint(1, 5000),
            f"{rnd.random() * 100:.2f}", (base + timedelta(days=i % 2000)).date().isoformat(),
            rnd.random() < 0.8, rnd.choice(["new", "won", "lost"]), f"C-{i}",
        )  # fmt: skip

    cols = ["owner_id", "created_at", "updated_at"]
    cols += [f["key"] for f in FIELDS[:11]] + ["code"]
    start = time.perf_counter()
    raw = db.session.connection().connection.dbapi_connection
    names = ", ".join(cols)
    if kind == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY x_{BIG} ({names}) FROM STDIN") as copy_:
            for i in range(rows):
                copy_.write_row(row(i))
    else:
        cur = raw.cursor()
        marks = ", ".join("?" * len(cols))
        for first in range(0, rows, 50_000):
            cur.executemany(
                f"INSERT INTO x_{BIG} ({names}) VALUES ({marks})",  # noqa: S608 - fixed names
                [row(i) for i in range(first, min(rows, first + 50_000))],
            )
    db.session.commit()
    return time.perf_counter() - start


def _filled() -> int:
    if specs.raw().entity(BIG) is None:
        return -1
    table = specs.raw().table(BIG)
    n = db.session.scalar(select(func.count()).select_from(table)) or 0
    db.session.rollback()
    return int(n)


def _prepare_big(kind: str, url: str, out: dict) -> None:
    with app_on(url):
        have = _filled()
        if have == ROWS:
            out["fill_s"] = "kept"
            return
        assert have == -1, f"{url} holds {have} ledger records, not {ROWS}: drop it"
        schema.create_entity(BIG, "Ledger entry", fields=FIELDS)
        out["fill_s"] = round(_fill(kind, ROWS), 1)
        if kind == "postgresql":
            db.session.execute(text(f"ANALYZE x_{BIG}"))
            db.session.commit()


@contextlib.contextmanager
def _copy_of(kind: str, url: str) -> Iterator[str]:
    """A working copy of the kept database ``url`` (which stays as it is)."""
    if kind == "sqlite":
        source = make_url(url).database
        with tempfile.TemporaryDirectory() as tmp:
            target = os.path.join(tmp, "work.sqlite")
            shutil.copyfile(source, target)
            yield f"sqlite:///{target}"
        return
    template = make_url(url).database
    name = f"atelier_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')  # fixed names
    try:
        yield make_url(url).set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_ledger(demo: dict) -> dict:
    """The demo package plus ledger as this installation has it (exported here)."""
    here = export_package(name="demo", version="1.0.0")
    db.session.rollback()
    package = copy.deepcopy(demo)
    package["entities"][BIG] = here["entities"][BIG]
    return package


def _changing_ledger(applied: dict) -> dict:
    """Version 2 of ``applied``: three new fields on ledger, it and one field relabelled."""
    v2 = copy.deepcopy(applied)
    v2["package"]["version"] = "2.0.0"
    ledger = v2["entities"][BIG]
    ledger["label_singular"] = "Ledger line"
    ledger["label_plural"] = "Ledger lines"
    ledger["fields"]["name"]["label"] = "Company name"
    top = max(f.get("position", 0) for f in ledger["fields"].values())
    for n, (key, ftype, label) in enumerate(
        (("region", "text", "Region"), ("seats", "integer", "Seats"),
         ("renewal", "date", "Renewal date")),
        start=1,
    ):  # fmt: skip
        ledger["fields"][key] = {"type": ftype, "label": label, "position": top + 10 * n}
    return v2


def _encode(package: dict) -> bytes:
    return dumps(package).encode("utf-8")


# --- runs -----------------------------------------------------------------------------------


def run(kind: str, demo: dict, synthetic: dict) -> dict:
    out: dict = {"rows": ROWS, "runs": RUNS, "apply_runs": APPLY_RUNS, "headline": HEADLINE}
    out["demo_package"] = _sizes(demo)
    out["synthetic_package"] = _sizes(synthetic)

    # (a) export of 50 x 100
    with database(kind) as url, app_on(url):
        _make_50x100()
        clock = _clock(url)
        try:
            export_package(name="synthetic", version="1")  # warm the specs
            db.session.rollback()

            def export_once():
                export_package(name="synthetic", version="1")
                db.session.rollback()

            out["export_50x100"] = _repeat(clock, export_once, RUNS)
        finally:
            clock.close()

    # (b) into an empty installation, each package
    for name, package in (("demo", demo), ("synthetic", synthetic)):
        data = _encode(package)
        applies: list[dict] = []
        for i in range(APPLY_RUNS):
            with database(kind) as url, app_on(url):
                clock = _clock(url)
                try:
                    one: dict = {}
                    _plan_and_apply(clock, data, RUNS if i == 0 else 1, one, name)
                finally:
                    clock.close()
            if i == 0:
                out[f"empty_{name}_plan"] = one[f"{name}_plan"]
                out[f"empty_{name}_steps"] = one[f"{name}_steps"]
            applies.append(one[f"{name}_apply"])
        out[f"empty_{name}_apply"] = _figures(
            [a["wall_s"] for a in applies], [a["cpu_s"] for a in applies]
        )

    # (c) into an installation of ROWS records in an unrelated entity; then change it
    with database(kind, keep_as=f"package_{ROWS}") as kept:
        _prepare_big(kind, kept, out)
        work = _copy_of(kind, kept) if keep_databases() else contextlib.nullcontext(kept)
        with work as url, app_on(url):
            clock = _clock(url)
            try:
                package = _with_ledger(demo)
                _plan_and_apply(clock, _encode(package), RUNS, out, "big_demo")
                v2 = _changing_ledger(package)
                _plan_and_apply(clock, _encode(v2), RUNS, out, "big_change")
                assert out["big_change_steps"] == 6, out["big_change_steps"]
                spec = specs.raw().entity(BIG)
                assert spec.label_singular == "Ledger line"
                assert {"region", "seats", "renewal"} <= {f.key for f in spec.fields}
                db.session.rollback()
                out["big_rows_after"] = _filled()
                assert out["big_rows_after"] == ROWS
            finally:
                clock.close()
    out["targets"] = _targets(out)
    return out


def _head(fig: dict) -> float:
    return fig["median_s"]


def _targets(out: dict) -> dict:
    checks = {
        "export_50x100 ≤ 1 s": _head(out["export_50x100"]) <= TARGETS["export_s"],
        "plan demo, empty ≤ 1 s": _head(out["empty_demo_plan"]) <= TARGETS["plan_s"],
        "plan 50×100, empty ≤ 1 s": _head(out["empty_synthetic_plan"]) <= TARGETS["plan_s"],
        "plan demo, 1M ≤ 1 s": _head(out["big_demo_plan"]) <= TARGETS["plan_s"],
        "plan change, 1M ≤ 1 s": _head(out["big_change_plan"]) <= TARGETS["plan_s"],
        "apply demo, empty ≤ 5 s": _head(out["empty_demo_apply"]) <= TARGETS["apply_new_s"],
        "apply 50×100, empty ≤ 5 s": _head(out["empty_synthetic_apply"]) <= TARGETS["apply_new_s"],
        "apply demo, 1M ≤ 5 s": out["big_demo_apply"][f"{HEADLINE}_s"] <= TARGETS["apply_new_s"],
    }
    return {k: "met" if v else "MISSED" for k, v in checks.items()}


def _packages() -> tuple[dict, dict]:
    """The demo package (the B2B starter's file) and the synthetic 50 × 100 one, exported
    from a throwaway SQLite installation (a package is the same data whatever engine it
    came from)."""
    demo = _demo_package()
    with database("sqlite") as url, app_on(url):
        _make_50x100()
        synthetic = export_package(name="synthetic", version="1.0.0")
        db.session.rollback()
    return demo, synthetic


def main() -> None:
    kinds = [k for k in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",") if k]
    path = RESULTS / "package.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    demo, synthetic = _packages()
    for kind in kinds:
        if kind == "postgresql" and not postgres_available():
            print("PostgreSQL not available: skipped")
            continue
        print(f"--- package benchmark on {kind}, {ROWS:,} rows ---", flush=True)
        results[kind] = run(kind, demo, synthetic)
        for key, value in results[kind].items():
            print(f"{key:>28}: {value}", flush=True)
        print(f"written to {save('package', results)}", flush=True)
