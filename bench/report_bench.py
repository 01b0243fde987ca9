"""The report engine (issue 19): owner × month, sum of revenue, over BENCH_ROWS (default
1,000,000) accounts, read by the division manager (level "department and below": the
records of ~1/6 of the owners), through ``crm.reports.engine.run`` (the definition
checked, the scoped query, labels, drill-down links, subtotals).

Cases:

- ``created_month_madrid``: by owner and month of a moment (created_at) in Europe/Madrid:
  on SQLite the wall-clock time comes from the balanced CASE over the zone's clock changes
  (``crm.reports.buckets``), on PostgreSQL from its time zone database;
- ``created_month_utc``: the same in UTC (no conversion);
- ``since_month``: by owner and month of a date field (no time zone);
- ``status_count``: one grouping, a picklist, count and sum (the cheapest shape).

Each sample is one ``run`` in its own request context (the user's zone set on it);
beside it, the engine's grouped query alone (``sql_only``: the database's share). The
machine's load average is recorded with the figures.
Target: median and p99 ≤ 300 ms. BENCH_REQUESTS (default 30) samples per case;
BENCH_KEEP_DB=1 reuses the list benchmark's kept database (``list_<rows>``). Figures go
to ``bench/results/report.json``.
"""

from __future__ import annotations

import os
from unittest import mock

from sqlalchemy import func, select

from bench.common import app_on, database, repeat, run_on_databases
from bench.list_data import MANAGER, ROWS, setup
from crm.access.models import User
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.types import l10n
from crm.records.query import scoped
from crm.reports import definition as d
from crm.reports import engine
from crm.reports.engine import run as run_report

N = int(os.environ.get("BENCH_REQUESTS", "30"))

CASES = {
    "created_month_madrid": (
        "Europe/Madrid",
        {"groups": [{"field": "owner_id"}, {"field": "created_at", "bucket": "month"}],
         "measures": ["sum:revenue"]},
    ),
    "created_month_utc": (
        "UTC",
        {"groups": [{"field": "owner_id"}, {"field": "created_at", "bucket": "month"}],
         "measures": ["sum:revenue"]},
    ),
    "since_month": (
        "Europe/Madrid",
        {"groups": [{"field": "owner_id"}, {"field": "since", "bucket": "month"}],
         "measures": ["sum:revenue"]},
    ),
    "status_count": (
        "Europe/Madrid",
        {"groups": [{"field": "stage"}], "measures": ["count:", "sum:revenue"]},
    ),
}  # fmt: skip


def run(kind: str) -> dict:
    out: dict = {"rows": ROWS}
    with database(kind, keep_as=f"list_{ROWS}") as url, app_on(url) as app:
        setup(kind, out)
        manager = db.session.get(User, MANAGER)
        spec = specs.current().entity("account")
        table = specs.current().table("account")
        out["manager_records"] = db.session.scalar(
            select(func.count()).select_from(scoped(manager, spec, columns=[table.c.id]).subquery())
        )
        for name, (zone, data) in CASES.items():
            fm = l10n.formats("en", zone)

            def once(data=data, fm=fm):
                with app.test_request_context(), mock.patch.object(l10n, "current", lambda: fm):
                    defn = d.parse(manager, {"entity": "account", "limit": 1000, **data})
                    return run_report(manager, defn)

            def sql_only(data=data, fm=fm):
                """The engine's own grouped query alone: what the database costs."""
                with app.test_request_context(), mock.patch.object(l10n, "current", lambda: fm):
                    defn = d.parse(manager, {"entity": "account", "limit": 1000, **data})
                    query = engine._query(
                        manager, spec, defn, defn.groups, engine._conditions(manager, spec, defn)
                    )
                    return db.session.execute(query).all()

            result = once()
            assert result.totals[0] is not None
            if name == "status_count":
                assert result.totals[0] == out["manager_records"], "counts differ"
            once()  # warm
            figures = repeat(once, N)
            figures["cells"] = len(result.rows)
            figures["sql_only"] = repeat(sql_only, max(3, N // 3))
            out[name] = figures
            sql = figures["sql_only"]
            print(f"{kind} {name}: median {figures['median_ms']:.1f} ms, "
                  f"p99 {figures['p99_ms']:.1f} ms ({len(result.rows)} cells); the query "
                  f"alone: median {sql['median_ms']:.1f} ms")  # fmt: skip
        out["load_average"] = os.getloadavg()
    return out


def main() -> None:
    run_on_databases("report", run, ROWS)
