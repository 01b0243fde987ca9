"""Quick search over BENCH_ROWS (default 1,000,000) accounts (issue 5) and as many contacts
with Chinese, Spanish and English names (issue 13).

Accounts: the list page's search condition through the index (SQLite FTS5 trigram,
PostgreSQL pg_trgm) against the same search as a plain LIKE/ILIKE scan, over a rotating set
of terms (rare, common, CJK, short), first 50 rows each, median and p99 of N requests.

Contacts (``bench.cjk_data``): quick search by term class (two-character Chinese terms,
common and rare: the gram index; three-or-more-character Chinese and Latin terms: the
trigram index; one-character terms), three ways, each the real path through the scoped
query layer for a user who reads everything:

- ``first50``: the first 50 matches (``scoped`` + ``listing.search_condition``);
- ``list_page``: the list page (``listing.list_page``: the first 50 in the list's order);
- ``lookup``: lookup autocomplete (``lookup.lookup_options``: the 10 most recently changed).

Before timing, every term's answers on every path are checked against a substring scan
(``search_check.substring_ids``), and the plan of each path is recorded for one term per
class (``search_check.plan``). Classes are timed interleaved (one request of each in turn),
BENCH_SEARCHES (default 200) requests per class and path, each timed by wall clock and by
CPU (this process's, plus on PostgreSQL the server process serving the session: Linux's
per-process CPU clock, which is utime + stime at nanosecond resolution; /proc/<pid>/stat
counts 10 ms ticks, too coarse for one search, so it is read only to cross-check the
total). BENCH_CLOCK=cpu makes CPU the headline figure (``median_ms``, ``p99_ms``, the
ratios); the other clock is reported beside it. Target: two-character terms within 2x the
three-or-more-character terms' time and under 20 ms.

BENCH_SEARCH_PARTS (default "accounts,contacts") picks the parts; BENCH_KEEP_DB=1 keeps
the filled databases (SQLite ``bench/data/search_<rows>.sqlite``, PostgreSQL
``atelier_bench_search_<rows>``) for the next run; without it each run makes and drops its
own. Figures go to ``bench/results/search-1m.json`` at 1,000,000 rows (else
``search-<rows>.json``), merged per engine, so the engines may be run one at a time
(BENCH_DATABASES=sqlite, then postgresql).
"""

from __future__ import annotations

import math
import os
import statistics
import time

from sqlalchemy import false, func, or_, select, text
from werkzeug.datastructures import MultiDict

from bench import cjk_data, search_check
from bench.common import app_on, database, postgres_available, save
from bench.schema_bench import FIELDS, ROWS, _fill
from crm.access.models import User
from crm.extensions import db
from crm.metadata import list_views, specs, types
from crm.records import listing, lookup
from crm.records.query import scoped
from crm.schema import service

TERMS = ["Company 4242", "ompany 99", "Berlin", "上海", "c777@", "Lyon", "Kraków", "C-5000"]
N = int(os.environ.get("BENCH_SEARCHES", "200"))
PARTS = os.environ.get("BENCH_SEARCH_PARTS", "accounts,contacts").split(",")
HEADLINE = "cpu" if os.environ.get("BENCH_CLOCK") == "cpu" else "wall"
TARGET_MS, TARGET_RATIO = 20.0, 2.0


# --- clocks and figures ---------------------------------------------------------------------


def _backend_pid() -> int | None:
    """PostgreSQL: the server process serving the session's connection (None on SQLite)."""
    raw = db.session.connection().connection.dbapi_connection
    info = getattr(raw, "info", None)
    return getattr(info, "backend_pid", None)


def _server_cpu(pid: int | None) -> float:
    """Seconds of CPU spent by the server process ``pid`` (0 on SQLite: no server)."""
    if pid is None:
        return 0.0
    return time.clock_gettime(((~pid) << 3) | 2)  # CPUCLOCK_SCHED of process ``pid``


def _cpu(pid: int | None) -> float:
    """Seconds of CPU spent by this process, plus the server process ``pid`` if any."""
    return time.process_time() + _server_cpu(pid)


def _ticks(pid: int | None) -> float:
    """utime + stime of process ``pid`` from /proc (seconds, 10 ms resolution)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    n = len(ordered)
    return {
        "n": n,
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[math.ceil(0.99 * n) - 1], 3),  # nearest rank
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def _figures(wall: list[float], cpu: list[float]) -> dict:
    """Headline median / p99 (BENCH_CLOCK) with both clocks' figures beside them."""
    both = {"wall": _stats(wall), "cpu": _stats(cpu)}
    head = both[HEADLINE]
    return {"median_ms": head["median_ms"], "p99_ms": head["p99_ms"], **both}


def _timed(run, n, terms=TERMS) -> dict:
    """``n`` calls of ``run`` over the rotating ``terms``."""
    pid = _backend_pid()
    wall, cpu = [], []
    for i in range(n):
        q = terms[i % len(terms)]
        c0, w0 = _cpu(pid), time.perf_counter()
        run(q)
        w1, c1 = time.perf_counter(), _cpu(pid)
        wall.append((w1 - w0) * 1000)
        cpu.append((c1 - c0) * 1000)
    return _figures(wall, cpu)


# --- data -----------------------------------------------------------------------------------


def _prepare(kind: str, out: dict) -> None:
    """The bench user, accounts and contacts, each unless a kept database holds it."""
    entities = specs.current().entities
    if db.session.scalar(select(User.id).where(User.email == "bench@example.com")) is None:
        db.session.add(
            User(email="bench@example.com", display_name="Bench", password_hash="x", is_admin=True)
        )
        db.session.commit()
    if "accounts" in PARTS and "account" not in entities:
        fields = [dict(f, searchable=f["key"] in ("name", "city", "email", "code")) for f in FIELDS]
        start = time.perf_counter()
        if "company" not in entities:
            service.create_entity("company", "Company")
        service.create_entity("account", "Account", fields=fields)
        _fill(kind, ROWS)
        out["accounts_seconds"] = round(time.perf_counter() - start, 1)
    if "contacts" in PARTS:
        table = specs.current().table("contact") if "contact" in entities else None
        if table is not None and (db.session.scalar(select(func.max(table.c.id))) or 0) >= ROWS:
            out["contacts_load"] = "reused"
        else:
            if table is None:
                service.create_entity(
                    "contact", "Contact", fields=cjk_data.FIELDS, name_field="name"
                )
            # Filled first, made searchable after: the indexes are built once, in bulk.
            out["contacts_fill_seconds"] = round(cjk_data.fill(kind, "x_contact", ROWS), 1)
            start = time.perf_counter()
            with service.change() as change:
                for key in cjk_data.SEARCHABLE:
                    change.update_field("contact", key, searchable=True)
            out["contacts_index_seconds"] = round(time.perf_counter() - start, 1)
    db.session.execute(text("ANALYZE"))
    db.session.commit()


# --- accounts (issue 5) ---------------------------------------------------------------------


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
    # Making a field searchable indexes every record (and back, for a kept database).
    start = time.perf_counter()
    service.update_field("account", "phone", searchable=True)
    out["make_field_searchable_s"] = round(time.perf_counter() - start, 1)
    service.update_field("account", "phone", searchable=False)


# --- contacts (issue 13) --------------------------------------------------------------------


def _paths(kind: str, user: User):
    """The three timed quick-search paths, each returning the ids it found, in its order."""
    spec = specs.current().entity("contact")
    table = specs.current().table("contact")
    view = list_views.default_view("contact", user.id)

    def first50(q):
        cond = listing.search_condition(user, spec, table, q, kind)
        query = scoped(user, spec, "read", columns=[table.c.id]).where(cond).limit(50)
        return [row[0] for row in db.session.execute(query)]

    def list_page(q):
        request = listing.parse_request(user, spec, MultiDict({"q": q}), view)
        page = listing.list_page(user, spec, request)
        assert not page.partial, q  # every timed term is answered by an index
        return [row["id"] for row in page.rows]

    def lookup_(q):
        return [record_id for record_id, _ in lookup.lookup_options(user, spec, q)]

    return spec, table, view, {"first50": first50, "list_page": list_page, "lookup": lookup_}


def _verify(user, spec, table, view, paths) -> dict:
    """Every term on every path against the substring scan; fails the run on a difference.
    Returns each term's number of matches."""
    list_sort = list(listing.parse_request(user, spec, MultiDict(), view).effective_sort)
    newest = [("updated_at", "desc")]
    matches = {}
    for terms in cjk_data.TERMS.values():
        for q in terms:
            in_list_order = search_check.substring_ids(spec, table, q, list_sort)
            by_newest = search_check.substring_ids(spec, table, q, newest)
            everything = set(in_list_order)
            matches[q] = len(everything)
            found = paths["first50"](q)
            assert len(found) == min(50, len(everything)), (q, len(found), len(everything))
            assert set(found) <= everything, q
            assert paths["list_page"](q) == in_list_order[:50], q
            assert paths["lookup"](q) == by_newest[: lookup.LIMIT], q
            counted = listing.count_list(
                user, spec, listing.parse_request(user, spec, MultiDict({"q": q}), view)
            )
            assert counted.n == min(len(everything), listing.COUNT_CAP), (q, counted)
    return matches


def _plans(paths: dict) -> dict:
    """The plans of each path for every two-character term and the first term of each other
    class (the captured statements of one call; the last is the page's query, earlier ones
    the probes it made)."""
    out = {}
    for group, terms in cjk_data.TERMS.items():
        for how, run in paths.items():
            for q in terms if group.startswith("two_") else terms[:1]:
                with search_check.captured() as seen:
                    run(q)
                out[f"{group}/{how}/{q}"] = [
                    search_check.plan(statement, params, "x_contact") for statement, params in seen
                ]
    return out


def _index_use(plans: dict) -> dict:
    """Per class and path: does the final statement use the gram / trigram index, and does
    it read the record table whole?"""
    summary = {}
    for key, steps in plans.items():
        last = steps[-1]
        summary[key] = {
            k: last[k] for k in ("gram_index", "trigram_index", "table_scan", "walks_sort_index")
        }
    return summary


def _contacts(kind: str, user: User, out: dict) -> None:
    if kind == "postgresql":
        # Parallel workers are other processes, which the CPU clock of the session's
        # server process does not see: the search runs in that process alone.
        db.session.execute(text("SET max_parallel_workers_per_gather = 0"))
        out["max_parallel_workers_per_gather"] = 0
    spec, table, view, paths = _paths(kind, user)
    out["contacts_matches"] = _verify(user, spec, table, view, paths)
    out["contacts_verified"] = "every term, every path = substring scan"
    plans = _plans(paths)
    out["contacts_plans"] = plans
    out["contacts_index_use"] = _index_use(plans)
    groups = list(cjk_data.TERMS)
    for run in paths.values():  # warm the caches once per term
        for terms in cjk_data.TERMS.values():
            for q in terms:
                run(q)
    pid = _backend_pid()
    wall = {(g, h): [] for g in groups for h in paths}
    cpu = {(g, h): [] for g in groups for h in paths}
    load_before, ticks_before, clock_sum = os.getloadavg(), _ticks(pid), 0.0
    start = time.perf_counter()
    for i in range(N):
        for how, run in paths.items():
            for g in groups:
                terms = cjk_data.TERMS[g]
                q = terms[i % len(terms)]
                p0, s0, w0 = time.process_time(), _server_cpu(pid), time.perf_counter()
                run(q)
                w1, s1, p1 = time.perf_counter(), _server_cpu(pid), time.process_time()
                clock_sum += s1 - s0
                wall[g, how].append((w1 - w0) * 1000)
                cpu[g, how].append((p1 - p0 + s1 - s0) * 1000)
    out["contacts_timing"] = {
        "requests_per_class_and_path": N,
        "seconds": round(time.perf_counter() - start, 1),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "headline_clock": HEADLINE,
    }
    if pid is not None:
        out["contacts_timing"]["server_cpu_check_s"] = {
            "proc_stat_ticks": round(_ticks(pid) - ticks_before, 2),
            "cpu_clock": round(clock_sum, 2),
        }
    for how in paths:
        for g in groups:
            out[f"contacts_{g}_{how}"] = _figures(wall[g, how], cpu[g, how])
        for pooled, parts in cjk_data.POOLED.items():
            out[f"contacts_{pooled}_{how}"] = _figures(
                [x for p in parts for x in wall[p, how]], [x for p in parts for x in cpu[p, how]]
            )
        three = out[f"contacts_three_plus_{how}"]["median_ms"]
        for two in ("two_chars", "two_common", "two_rare"):
            two_ms = out[f"contacts_{two}_{how}"]["median_ms"]
            out[f"contacts_{two}_vs_three_plus_{how}_ratio"] = (
                round(two_ms / three, 2) if three else None
            )
    out["contacts_targets"] = _targets(out, list(paths))


def _targets(out: dict, hows: list[str]) -> dict:
    """Per path: two-character median and p99 under 20 ms, median within 2x of the
    three-or-more-character terms'."""
    verdict = {}
    for how in hows:
        two = out[f"contacts_two_chars_{how}"]
        ratio = out[f"contacts_two_chars_vs_three_plus_{how}_ratio"]
        verdict[how] = {
            "two_chars_median_under_20ms": two["median_ms"] < TARGET_MS,
            "two_chars_p99_under_20ms": two["p99_ms"] < TARGET_MS,
            "two_chars_within_2x_of_three_plus": ratio is not None and ratio <= TARGET_RATIO,
        }
    return verdict


# --- running --------------------------------------------------------------------------------


def run(kind: str) -> dict:
    out: dict = {"rows": ROWS, "parts": PARTS}
    with database(kind, keep_as=f"search_{ROWS}") as url, app_on(url):
        _prepare(kind, out)
        user = db.session.scalar(select(User).where(User.email == "bench@example.com"))
        if kind == "sqlite":
            out["engine_version"] = db.session.scalar(text("SELECT sqlite_version()"))
        else:
            out["engine_version"] = db.session.scalar(text("SHOW server_version"))
        if "accounts" in PARTS:
            _accounts(kind, user, out)
        if "contacts" in PARTS:
            _contacts(kind, user, out)
    return out


def results_name() -> str:
    return "search-1m" if ROWS == 1_000_000 else f"search-{ROWS}"


def main() -> None:
    """Run on each engine of BENCH_DATABASES; print the headline figures; merge them into
    the results file (an engine not run keeps its earlier figures)."""
    import json

    from bench.common import RESULTS

    kinds = [k for k in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",") if k]
    path = RESULTS / f"{results_name()}.json"
    for kind in kinds:
        if kind == "postgresql" and not postgres_available():
            print("PostgreSQL not available: skipped")
            continue
        print(f"--- search benchmark on {kind}, {ROWS:,} rows ---", flush=True)
        figures = run(kind)
        for key, value in figures.items():
            if key not in ("contacts_plans",):
                print(f"{key:>44}: {value}")
        # Read just before writing: another engine's run may have written meanwhile.
        results = json.loads(path.read_text()) if path.exists() else {}
        results[kind] = figures
        save(results_name(), results)
    print(f"written to {path}")
