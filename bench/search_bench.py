"""Quick search over BENCH_ROWS (default 1,000,000) accounts (issue 5).

Times the list page's search condition through the index (SQLite FTS5 trigram, PostgreSQL
pg_trgm) against the same search as a plain LIKE/ILIKE scan, over a rotating set of terms
(rare, common, CJK, short), first page of 50 rows each, median and p99 of N requests.
"""

from __future__ import annotations

import os
import time

from sqlalchemy import false, or_, select, text

from bench.common import app_on, database, run_on_databases
from bench.schema_bench import FIELDS, ROWS, _fill
from crm.access.models import User
from crm.extensions import db
from crm.metadata import specs, types
from crm.records import listing
from crm.schema import service

TERMS = ["Company 4242", "ompany 99", "Berlin", "上海", "c777@", "Lyon", "Kraków", "C-5000"]
N = int(os.environ.get("BENCH_SEARCHES", "200"))


def _timed(run, n):
    samples = []
    for i in range(n):
        q = TERMS[i % len(TERMS)]
        start = time.perf_counter()
        run(q)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"n": n, "median_ms": samples[n // 2], "p99_ms": samples[min(n - 1, int(n * 0.99))]}


def run(kind: str) -> dict:
    fields = [dict(f, searchable=f["key"] in ("name", "city", "email", "code")) for f in FIELDS]
    out: dict = {"rows": ROWS}
    with database(kind) as url, app_on(url):
        service.create_entity("company", "Company")
        start = time.perf_counter()
        service.create_entity("account", "Account", fields=fields)
        out["load_seconds"] = _fill(kind, ROWS)
        if kind == "postgresql":
            db.session.execute(text("ANALYZE x_account"))
            db.session.commit()
        out["create_seconds"] = time.perf_counter() - start
        user = User(id=1, email="bench@example.com", display_name="Bench", password_hash="x")
        user.is_active = True
        spec = specs.current().entity("account")
        table = specs.current().table("account")

        def indexed(q):
            cond = listing.search_condition(user, spec, table, q, kind)
            db.session.execute(
                select(table.c.id, table.c.name).where(cond, table.c.deleted_at.is_(None)).limit(50)
            ).all()

        def scan(q):
            searched = [f for f in spec.active_fields if f.searchable]
            cond = or_(
                false(),
                *(
                    types.build_filter(f, table.c[f.key], "contains", q, dialect_name=kind)
                    for f in searched
                ),
            )
            db.session.execute(
                select(table.c.id, table.c.name).where(cond, table.c.deleted_at.is_(None)).limit(50)
            ).all()

        out["indexed"] = _timed(indexed, N)
        out["like_scan"] = _timed(scan, max(20, N // 10))
        start = time.perf_counter()
        service.update_field("account", "phone", searchable=True)
        out["make_field_searchable_s"] = time.perf_counter() - start
        db.session.rollback()
    return out


def main() -> None:
    run_on_databases("search", run, ROWS)
