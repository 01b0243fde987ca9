"""Shared benchmark plumbing: throwaway databases, an app on them, timing, results."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from app import create_app
from crm import migrate
from crm.extensions import db

RESULTS = Path(__file__).resolve().parent / "results"
PG_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_SERVER, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


KEEP_DIR = Path(__file__).resolve().parent / "data"


def keep_databases() -> bool:
    """BENCH_KEEP_DB=1: benchmarks that support it keep their filled database between runs
    (SQLite under bench/data/, PostgreSQL as a named database) instead of a throwaway one."""
    return os.environ.get("BENCH_KEEP_DB", "") not in ("", "0")


@contextmanager
def database(kind: str, keep_as: str | None = None) -> Iterator[str]:
    """A fresh, migrated database URL of ``kind`` ("sqlite" or "postgresql"), dropped after.

    With ``keep_as`` and BENCH_KEEP_DB=1, the database named ``keep_as`` is reused (created
    on first use) and kept: the caller checks whether it already holds its data."""
    if keep_as and keep_databases():
        if kind == "sqlite":
            KEEP_DIR.mkdir(exist_ok=True)
            url = f"sqlite:///{KEEP_DIR / keep_as}.sqlite"
        else:
            name = f"atelier_bench_{keep_as}"
            with psycopg.connect(PG_SERVER, autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{name}"')  # a fixed, checked name
            url = _pg_url(name)
        migrate.upgrade(url)
        yield url
        return
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite"
            migrate.upgrade(url)
            yield url
        return
    name = f"atelier_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_url(name: str) -> str:
    return (
        make_url(PG_SERVER)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(False)
    )


@contextmanager
def app_on(url: str):
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": tmp, "SECRET_KEY": "bench"}
        )
        with app.app_context():
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat(fn: Callable[[], object], n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return {
        "n": n,
        "median_ms": statistics.median(samples) * 1000,
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
        "mean_ms": statistics.fmean(samples) * 1000,
    }


def save(name: str, results: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    return path


def run_on_databases(name: str, run: Callable[[str], dict], rows: int) -> dict:
    """Run ``run(kind)`` on each database of BENCH_DATABASES, print and save the figures."""
    kinds = [k for k in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",") if k]
    results = {}
    for kind in kinds:
        if kind == "postgresql" and not postgres_available():
            print("PostgreSQL not available: skipped")
            continue
        print(f"--- {name} benchmark on {kind}, {rows:,} rows ---", flush=True)
        results[kind] = run(kind)
        for key, value in results[kind].items():
            print(f"{key:>32}: {value}")
    print(f"written to {save(name, results)}")
    return results
