"""Import runs (issue 16): rows per second written through the record service, and memory.

A generated messy CSV of ``BENCH_IMPORT_ROWS`` (default 100,000) rows × 15 columns (the
``import_read`` benchmark's file: 15 fields of 9 types) is imported by an administrator
into a fresh entity with ``crm.imports.run`` as the ``crm import`` command runs it: read,
every cell parsed, every row checked and created by the record service
(``bulk_create``: parse, required/unique/lookup checks, stage gates, history rows), in
batches of ``BENCH_IMPORT_BATCH`` (default 500) each committed with its import rows and
the checkpoint, with progress reported as the job reports it. Figures: rows per second
(wall and CPU of this process), the seconds from the start to the first progress report
with rows done, the peak resident memory of the process, and, with
``BENCH_IMPORT_PROFILE=1``, the ten functions taking the most time. SQLite and
PostgreSQL (``BENCH_DATABASES``).

``BENCH_IMPORT_DEDUPE=1`` (results saved as ``import_dedupe``): the same run with a
duplicate rule on the entity (the default company rule: the same company name and phone),
so every row is checked against the records already there and the file's earlier rows
(one key query per batch, scoring in Python) and every created record is keyed; the
figures also say how many rows were skipped as duplicates.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import resource
import tempfile
import time
from pathlib import Path

from bench.common import app_on, database, run_on_databases
from bench.import_read_bench import write_csv

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
BATCH = int(os.environ.get("BENCH_IMPORT_BATCH", "500"))
PROFILE = os.environ.get("BENCH_IMPORT_PROFILE", "") not in ("", "0")
DEDUPE = os.environ.get("BENCH_IMPORT_DEDUPE", "") not in ("", "0")
KEYS = [
    "code", "company", "contact", "city", "address", "joined", "born", "revenue",
    "employees", "discount", "active", "segment", "phone", "email", "notes",
]  # fmt: skip


def fields() -> list[dict]:
    from bench.import_read_bench import columns

    out = []
    for c in columns():
        f = c.spec
        item = {"key": f.key, "type": f.type, "label": f.key.title(), "options": dict(f.options)}
        if f.choices:
            item["choices"] = [{"key": ch.key, "label": ch.label} for ch in f.choices]
        out.append(item)
    return out


def run(kind: str) -> dict:
    from crm.access.models import User
    from crm.extensions import db
    from crm.imports import run as engine
    from crm.imports import service
    from crm.imports.values import ColumnMap
    from crm.metadata import specs
    from crm.schema import service as schema

    with tempfile.TemporaryDirectory() as tmp, database(kind) as url, app_on(url):
        path = Path(tmp) / "bench.csv"
        write_csv(path, ROWS)
        admin = User(email="admin@example.com", display_name="Admin", password_hash="x",
                     is_admin=True)  # fmt: skip
        db.session.add(admin)
        db.session.commit()
        schema.create_entity("customer", "Customer", fields=fields(), name_field="company")
        spec = specs.current().entity("customer")
        if DEDUPE:
            from crm.dedupe import rules
            from crm.uow import unit_of_work

            with unit_of_work():
                for data in rules.company_rules("customer", name="company", website=None):
                    rules.save(data, spec)
            spec = specs.current().entity("customer")
        columns = [ColumnMap(i, spec.field(k)) for i, k in enumerate(KEYS)]
        with open(path, "rb") as handle:
            imp = service.create(admin, spec, handle, path.name, columns, queue=False)
        profiler = cProfile.Profile() if PROFILE else None
        wall, cpu = time.perf_counter(), time.process_time()
        start = wall
        if profiler:
            profiler.enable()
        first: list[float] = []

        def report(done: int, total: int, message: str) -> None:  # as the job reports
            if done and not first:
                first.append(time.perf_counter())

        summary = engine.run(imp.id, batch=BATCH, report=report)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        result = {
            "rows": summary.rows,
            "created": summary.created,
            "errors": summary.errors,
            "duplicate_rule": DEDUPE,
            "duplicates_skipped": summary.duplicates,
            "batch": BATCH,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "rows_per_s_wall": round(summary.rows / wall),
            "rows_per_s_cpu": round(summary.rows / cpu),
            "first_progress_s": round(first[0] - start, 2) if first else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(
                os.environ.get("BENCH_IMPORT_SORT", "tottime")
            ).print_stats(int(os.environ.get("BENCH_IMPORT_TOP", "12")))
            print(out.getvalue())
        return result


def main() -> None:
    run_on_databases("import_dedupe" if DEDUPE else "import", run, ROWS)
