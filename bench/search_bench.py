"""Quick search over BENCH_ROWS (default 1,000,000) accounts (issue 5) and as many contacts
with Chinese, Spanish and English names (issue 13).

Accounts: the list page's search condition through the index (SQLite FTS5 trigram,
PostgreSQL pg_trgm) against the same search as a plain LIKE/ILIKE scan, over a rotating set
of terms (rare, common, CJK, short), first 50 rows each, median and p99 of N requests.

Contacts (``bench.cjk_data``): quick search for two-character Chinese terms (the gram index),
three-or-more-character terms (the trigram index) and one-character ones, two ways: the
first 50 matches (the search condition alone) and the list page (``listing.list_page``:
the first 50 in the list's order, latest change first, for a user who reads everything).
Target: two-character terms within 2x the trigram terms' time and under 20 ms.

BENCH_KEEP_DB=1 keeps the filled databases (``search_<rows>``) for the next run;
BENCH_CLOCK=cpu times CPU instead of wall-clock time (see ``_clock``).
"""

from __future__ import annotations

import os
import time

from sqlalchemy import false, func, or_, select, text
from werkzeug.datastructures import MultiDict

from bench import cjk_data
from bench.common import app_on, database, run_on_databases
from bench.schema_bench import FIELDS, ROWS, _fill
from crm.access.models import User
from crm.extensions import db
from crm.metadata import list_views, specs, types
from crm.records import listing
from crm.schema import service

TERMS = ["Company 4242", "ompany 99", "Berlin", "上海", "c777@", "Lyon", "Kraków", "C-5000"]
N = int(os.environ.get("BENCH_SEARCHES", "200"))


def _clock(kind: str):
    """Wall-clock time, or with BENCH_CLOCK=cpu (a machine shared with other work) the CPU
    time spent on the search: this process's, plus on PostgreSQL the server process's
    serving this session (Linux's per-process CPU clock; the server runs on this host)."""
    if os.environ.get("BENCH_CLOCK") != "cpu":
        return time.perf_counter
    if kind == "sqlite":
        return time.process_time

    def both() -> float:
        pid = db.session.connection().connection.dbapi_connection.info.backend_pid
        return time.process_time() + time.clock_gettime(((~pid) << 3) | 2)

    return both


def _timed(run, n, terms=TERMS):
    clock = _clock(db.session.get_bind().dialect.name)
    samples = []
    for i in range(n):
        q = terms[i % len(terms)]
        start = clock()
        run(q)
        samples.append((clock() - start) * 1000)
    samples.sort()
    return {
        "n": n,
        "median_ms": round(samples[n // 2], 3),
        "p99_ms": round(samples[min(n - 1, int(n * 0.99))], 3),
    }


def _prepare(kind: str, out: dict) -> None:
    """Accounts and contacts, unless a kept database holds them already."""
    entities = specs.current().entities
    if "contact" in entities:
        table = specs.current().table("contact")
        if (db.session.scalar(select(func.max(table.c.id))) or 0) >= ROWS:
            out["load_seconds"] = "reused"
            return
    fields = [dict(f, searchable=f["key"] in ("name", "city", "email", "code")) for f in FIELDS]
    start = time.perf_counter()
    if "company" not in entities:
        service.create_entity("company", "Company")
    if "account" not in entities:
        service.create_entity("account", "Account", fields=fields)
        _fill(kind, ROWS)
    out["accounts_seconds"] = round(time.perf_counter() - start, 1)
    db.session.add(
        User(email="bench@example.com", display_name="Bench", password_hash="x", is_admin=True)
    )
    db.session.commit()
    # Filled first, made searchable after: the indexes are built once, in bulk.
    service.create_entity("contact", "Contact", fields=cjk_data.FIELDS, name_field="name")
    out["contacts_fill_seconds"] = round(cjk_data.fill(kind, "x_contact", ROWS), 1)
    start = time.perf_counter()
    with service.change() as change:
        for key in cjk_data.SEARCHABLE:
            change.update_field("contact", key, searchable=True)
    out["contacts_index_seconds"] = round(time.perf_counter() - start, 1)
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _accounts(kind: str, user: User, out: dict) -> None:
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


def _contacts(kind: str, user: User, out: dict) -> None:
    spec = specs.current().entity("contact")
    table = specs.current().table("contact")
    view = list_views.default_view("contact", user.id)

    def first_50(q):
        cond = listing.search_condition(user, spec, table, q, kind)
        return db.session.execute(
            select(table.c.id).where(cond, table.c.deleted_at.is_(None)).limit(50)
        ).all()

    def page(q):
        request = listing.parse_request(user, spec, MultiDict({"q": q}), view)
        return listing.list_page(user, spec, request)

    matches = {}
    for terms in cjk_data.TERMS.values():
        for q in terms:
            assert not page(q).partial, q  # every term is answered by an index
            matches[q] = listing.count_list(user, spec, listing.parse_request(
                user, spec, MultiDict({"q": q}), view)).n  # fmt: skip
    out["contacts_matches"] = matches
    for group, terms in cjk_data.TERMS.items():
        n = max(len(terms) * 10, N // 2)
        out[f"contacts_{group}_first50"] = _timed(first_50, n, terms)
        out[f"contacts_{group}_list_page"] = _timed(page, n, terms)
    for how in ("first50", "list_page"):
        two = out[f"contacts_two_chars_{how}"]["median_ms"]
        three = out[f"contacts_three_plus_{how}"]["median_ms"]
        out[f"contacts_two_vs_three_{how}_ratio"] = round(two / three, 2) if three else None


def run(kind: str) -> dict:
    out: dict = {"rows": ROWS}
    with database(kind, keep_as=f"search_{ROWS}") as url, app_on(url):
        _prepare(kind, out)
        user = db.session.scalar(select(User).where(User.email == "bench@example.com"))
        _accounts(kind, user, out)
        _contacts(kind, user, out)
        # Making a field searchable indexes every record (and back, for a kept database).
        start = time.perf_counter()
        service.update_field("account", "phone", searchable=True)
        out["make_field_searchable_s"] = round(time.perf_counter() - start, 1)
        service.update_field("account", "phone", searchable=False)
    return out


def main() -> None:
    run_on_databases("search", run, ROWS)
