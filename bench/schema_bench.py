"""Schema pipeline benchmarks (issue 3).

- add a field, and an indexed field, to an entity holding ROWS records (default 1,000,000);
- change a field's type on that table (SQLite rebuilds it; PostgreSQL rewrites the column);
- compile the specs of 50 entities with 100 fields each;
- the per-request cost of the metadata-version check.

Environment: BENCH_ROWS (default 1000000), BENCH_DATABASES (default "sqlite,postgresql").
"""

from __future__ import annotations

import os
import random
import time
from datetime import datetime, timedelta

from sqlalchemy import text

from bench.common import app_on, database, repeat, run_on_databases, timed
from crm.extensions import db
from crm.metadata import specs
from crm.schema import service

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "email", "type": "email", "label": "E-mail"},
    {"key": "phone", "type": "phone", "label": "Phone"},
    {"key": "city", "type": "text", "label": "City"},
    {"key": "country", "type": "text", "label": "Country"},
    {"key": "revenue", "type": "currency", "label": "Revenue"},
    {"key": "employees", "type": "integer", "label": "Employees"},
    {"key": "score", "type": "decimal", "label": "Score"},
    {"key": "since", "type": "date", "label": "Customer since"},
    {"key": "active", "type": "boolean", "label": "Active"},
    {
        "key": "stage",
        "type": "picklist",
        "label": "Stage",
        "choices": [{"key": k, "label": k} for k in ("new", "won", "lost")],
    },
    {"key": "notes", "type": "long_text", "label": "Notes"},
    {"key": "website", "type": "url", "label": "Website"},
    {"key": "code", "type": "text", "label": "Code"},
]


def _fill(kind: str, rows: int) -> float:
    """Bulk-load ``rows`` records (COPY on PostgreSQL, executemany on SQLite)."""
    rnd = random.Random(42)
    base = datetime(2020, 1, 1)
    cities = ["Berlin", "São Paulo", "上海", "Lyon", "Austin", "Kraków", "Osaka"]

    def row(i: int) -> tuple:
        return (
            rnd.randint(1, 200),
            (base + timedelta(minutes=i)).isoformat(sep=" "),
            (base + timedelta(minutes=i)).isoformat(sep=" "),
            f"Company {i}",
            f"c{i}@example.com",
            f"+49 30 {i:07d}",
            rnd.choice(cities),
            "DE",
            f"{rnd.randint(0, 10**7)}.{rnd.randint(0, 99):02d}",
            rnd.randint(1, 5000),
            f"{rnd.random() * 100:.2f}",
            (base + timedelta(days=i % 2000)).date().isoformat(),
            rnd.random() < 0.8,
            rnd.choice(["new", "won", "lost"]),
            None,
            None,
            f"C-{i}",
        )

    cols = ", ".join(
        ["owner_id", "created_at", "updated_at"]
        + [f["key"] for f in FIELDS[:12]]
        + ["website", "code"]
    )
    start = time.perf_counter()
    conn = db.session.connection()
    if kind == "postgresql":
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur, cur.copy(f"COPY x_account ({cols}) FROM STDIN") as copy:
            for i in range(rows):
                copy.write_row(row(i))
    else:
        marks = ", ".join("?" * len(cols.split(",")))
        raw = conn.connection.dbapi_connection
        cur = raw.cursor()
        batch = 50_000
        for start_i in range(0, rows, batch):
            cur.executemany(
                f"INSERT INTO x_account ({cols}) VALUES ({marks})",  # noqa: S608
                [row(i) for i in range(start_i, min(rows, start_i + batch))],
            )
    db.session.commit()
    return time.perf_counter() - start


def _bench_field(i: int) -> dict:
    template = FIELDS[i % len(FIELDS)]
    extra = {"choices": template["choices"]} if "choices" in template else {}
    return {"key": f"field_{i}", "type": template["type"], "label": f"Field {i}", **extra}


def _compile_50x100(kind: str) -> dict:
    with database(kind) as url, app_on(url):
        with service.change() as c:
            for e in range(50):
                c.create_entity(
                    f"entity_{e}",
                    f"Entity {e}",
                    fields=[
                        {
                            "key": f"field_{i}",
                            "type": FIELDS[i % len(FIELDS)]["type"],
                            "label": f"Field {i}",
                            **(
                                {"choices": FIELDS[10]["choices"]}
                                if FIELDS[i % len(FIELDS)]["type"] == "picklist"
                                else {}
                            ),
                        }
                        for i in range(100)
                    ],
                )
        version = specs.read_version()
        stats = repeat(lambda: specs.compile_all(version), 10)
        check = repeat(specs.read_version, 2000)
        db.session.rollback()
        return {"compile_50x100": stats, "version_check": check}


def run(kind: str) -> dict:
    out: dict = {"rows": ROWS}
    with database(kind) as url, app_on(url):
        service.create_entity("company", "Company")
        service.create_entity("account", "Account", fields=FIELDS)
        out["load_seconds"] = _fill(kind, ROWS)
        if kind == "postgresql":
            db.session.execute(text("ANALYZE x_account"))
            db.session.commit()
        out["add_field_s"] = timed(
            lambda: service.add_field("account", "segment", "text", "Segment")
        )
        out["add_indexed_field_s"] = timed(
            lambda: service.add_field(
                "account", "parent", "lookup", "Parent", options={"target": "company"}
            )
        )
        out["add_unique_field_s"] = timed(
            lambda: service.add_field("account", "vat", "text", "VAT", unique=True)
        )
        out["make_unique_with_preflight_s"] = timed(
            lambda: service.update_field("account", "code", unique=True)
        )
        out["type_change_integer_to_decimal_s"] = timed(
            lambda: service.update_field("account", "employees", type="decimal")
        )
        out["relabel_s"] = timed(
            lambda: service.update_field("account", "name", label="Company name")
        )
        out["version_check_on_big_db"] = repeat(specs.read_version, 2000)
        db.session.rollback()
    out.update(_compile_50x100(kind))
    return out


def main() -> None:
    run_on_databases("schema", run, ROWS)
