"""The runtime's list and record pages against hand-written pages (issue 5), the list
under "department and below" (issue 6), "own records" and "own department" read scopes,
and quick search on the list page (issue 12).

The data is ``bench.list_data``'s (BENCH_ROWS accounts, default 1,000,000); the
hand-written pages are ``bench.list_pages``'s. Through the full Flask stack (routing,
sign-in, access policy, template), each request in its own app context and database
session, each runtime page beside its hand-written twin, timed in the same run,
interleaved:

- ``lists``: the list page, filter owner = me, sorted on an indexed field
  (``updated_at``), 50 rows, beside the hand-written page and a bare hand-written table
  (no layout, no bulk bar, unformatted values: a floor);
- ``records``: the record page with its two related lists (10 rows each). The runtime
  loads related lists lazily (htmx), so one sample is the page plus its two fragments,
  three requests; ``record_parts`` times each request on its own;
- ``scoped``: the list of every record (no filter) for a user whose role reads all
  records, and for a division manager whose role reads "department and below" (34 of the
  200 departments), with a hand-written page for the scoped one;
- ``own``: every record an "own records" rep may read (theirs, and 40 shared with them or
  their department), newest first, beside a hand-written page and beside the rep's own
  records listed (owner = the rep) by a user who reads everything (the issue's comparison);
- ``dept``: the same for an "own department" rep (a team of 5 record owners);
- ``search``: quick search on the list page and its count fragment for a rare term (11
  matches), a common one (a city, ~14 %), and terms of one and two characters (the second
  matching nothing), the first two beside hand-written twins through the same index;
- ``lazy``: fragments the runtime pages load once shown (the list's capped count, the
  record's sharing panel).

Records shared with the user as a list filter are not timed: the runtime has no such
filter (``f.<field>.<op>`` only filters fields).

BENCH_CLOCK=cpu: CPU time of the benchmark's process instead of wall-clock time (a machine
shared with other work; SQLite only, as PostgreSQL works in its own processes).

Median and p99 over BENCH_REQUESTS (default 500) requests each (searches:
BENCH_SEARCH_REQUESTS, default BENCH_REQUESTS / 10, at least 10: a short term scans),
the ratio runtime / hand-written, the number of queries per page (no page may run an
exact count), and the worker's memory (max RSS). Runtime and hand-written pages must list
the same records, or the run fails.

BENCH_KEEP_DB=1 keeps the filled databases (bench/data/, PostgreSQL ``atelier_bench_list_*``)
for the next run (older ones are upgraded). BENCH_ONLY=lists,records,record_parts,scoped,
own,dept,search,lazy picks the groups of pages timed. BENCH_SQL=<page> prints the
statements one visit of a page runs. BENCH_PROFILE=<page> prints a pyinstrument profile
of that page (``pip install pyinstrument`` in the venv) instead of timing.
"""

from __future__ import annotations

import os
import re
import resource
import time
from urllib.parse import quote

from sqlalchemy import event, or_, select

from bench import list_pages
from bench.common import app_on, database, run_on_databases
from bench.list_data import (
    DEPARTMENTS,
    MANAGER,
    OWN_REP,
    OWNER,
    RARE_MATCHES,
    RELATED_ROWS,
    ROWS,
    SEARCH_TERMS,
    dept_rep,
    setup,
)
from crm.access.models import RecordShare, User
from crm.auth import service as auth
from crm.extensions import db
from tests.support.client import CRMClient

N = int(os.environ.get("BENCH_REQUESTS", "500"))
SEARCH_N = int(os.environ.get("BENCH_SEARCH_REQUESTS", "0")) or max(10, N // 10)
GROUPS = "lists,records,scoped,own,dept,search,lazy"
MINE = "/r/account/?f.owner_id.is_me=&sort=-updated_at&size=50"
EVERYTHING = "/r/account/?sort=-updated_at&size=50"
HX = {"HX-Request": "true"}


def _stats(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {
        "n": len(samples),
        "median_ms": round(samples[len(samples) // 2], 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
    }


# A page to time: the client it is asked with (who is signed in) and its requests (a record
# page is the page and its two related lists, three requests per sample).
Page = tuple[CRMClient, list[tuple[str, dict]]]


# BENCH_CLOCK=cpu times each sample in the process's CPU time rather than wall-clock time:
# on a machine shared with other work, waiting for a core then does not count (the
# database is in-process for SQLite; PostgreSQL's own work is then not counted).
_CLOCK = time.process_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter


def _sample(page: Page) -> float:
    client, urls = page
    start = _CLOCK()
    for url, headers in urls:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
    return (_CLOCK() - start) * 1000


def _compare(pages: dict[str, Page], n: int) -> dict:
    """Time each page ``n`` times, interleaved in rounds so all see the same machine."""
    samples: dict[str, list[float]] = {k: [] for k in pages}
    rounds = 10
    for _ in range(rounds):
        for name, page in pages.items():
            samples[name].extend(_sample(page) for _ in range(n // rounds))
    return {k: _stats(v) for k, v in samples.items()}


def _ratio(out: dict, runtime: str, hand: str) -> float:
    return round(out[runtime]["median_ms"] / out[hand]["median_ms"], 3)


def _profile(page: Page, n: int) -> None:
    from pyinstrument import Profiler  # a benchmark-only tool, not a project dependency

    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(n):
        _sample(page)
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def _client(app, user_id: int) -> CRMClient:
    """A client signed in as ``user_id`` through a real session row."""
    client = app.test_client()
    session = auth.open_session(db.session.get(User, user_id), ip=None, user_agent="bench")
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = session.token
    return client


def _search_pages(rep: CRMClient) -> dict[str, Page]:
    """For each search term: the runtime page and its count fragment, and for the terms
    an index answers (rare, common) their hand-written twins."""
    pages: dict[str, Page] = {}
    for label, term in SEARCH_TERMS.items():
        q = quote(term)
        pages[f"search_{label}_runtime"] = (rep, [(f"{EVERYTHING}&q={q}", {})])
        pages[f"search_{label}_count_runtime"] = (
            rep, [(f"/r/account/count?sort=-updated_at&q={q}", HX)]
        )  # fmt: skip
        if label in ("rare", "common"):
            pages[f"search_{label}_hand_written"] = (rep, [(f"/bench/hand/search?q={q}", {})])
            pages[f"search_{label}_count_hand_written"] = (
                rep, [(f"/bench/hand/search/count?q={q}", HX)]
            )  # fmt: skip
    return pages


def run(kind: str) -> dict:
    out: dict = {"rows": ROWS, "related_rows": RELATED_ROWS, "departments": DEPARTMENTS}
    with database(kind, keep_as=f"list_{ROWS}") as url, app_on(url) as app:
        # Each request in its own context (app context, g, session), as in a real worker.
        app.test_client_class = CRMClient
        some = setup(kind, out)
        list_pages.register(app)
        rep, manager = _client(app, OWNER), _client(app, MANAGER)
        own_rep, team_rep = _client(app, OWN_REP), _client(app, dept_rep())
        lists = {
            "list_runtime": (rep, [(MINE, {})]),
            "list_hand_written": (rep, [("/bench/hand/list", {})]),
            "list_hand_bare": (rep, [("/bench/hand/bare", {})]),
        }
        scoped = {
            "list_unscoped_runtime": (rep, [(EVERYTHING, {})]),
            "list_subtree_runtime": (manager, [(EVERYTHING, {})]),
            "list_subtree_hand_written": (manager, [("/bench/hand/list/subtree", {})]),
        }
        own = {
            "list_own_runtime": (own_rep, [(EVERYTHING, {})]),
            "list_own_hand_written": (own_rep, [("/bench/hand/list/own", {})]),
            # The rep's own records (without the shares) listed by a user who reads all.
            "list_own_rows_read_all_runtime": (
                rep,
                [(f"/r/account/?f.owner_id.eq={OWN_REP}&sort=-updated_at&size=50", {})],
            ),
        }
        dept = {
            "list_dept_runtime": (team_rep, [(EVERYTHING, {})]),
            "list_dept_hand_written": (team_rep, [("/bench/hand/list/dept", {})]),
        }
        search = _search_pages(rep)
        records = {
            "record_runtime": (rep, [
                (f"/r/account/{some}", {}),
                (f"/r/account/{some}/related/contact/account", HX),
                (f"/r/account/{some}/related/deal/account", HX),
            ]),
            "record_hand_written": (rep, [
                (f"/bench/hand/record/{some}", {}),
                (f"/bench/hand/record/{some}/contact", HX),
                (f"/bench/hand/record/{some}/deal", HX),
            ]),
        }  # fmt: skip
        # Fragments the runtime pages load as soon as they are shown (hx-trigger="load"): the
        # list's capped count and the record's sharing panel (the hand pages have neither).
        lazy = {
            "list_count_fragment_runtime": (rep, [(MINE.replace("/?", "/count?"), HX)]),
            "sharing_panel_fragment_runtime": (
                rep, [(f"/r/account/{some}/sharing?seen=1", HX)]
            ),
        }  # fmt: skip
        everything = {**lists, **scoped, **own, **dept, **search, **records}
        _check(everything, out)
        profile = os.environ.get("BENCH_PROFILE")
        if profile:
            _profile(everything.get(profile) or everything[f"{profile}_runtime"], N)
            db.session.rollback()
            return out
        only = os.environ.get("BENCH_ONLY", GROUPS).split(",")
        if "lists" in only:
            out.update(_compare(lists, N))
            out["ratio_list"] = _ratio(out, "list_runtime", "list_hand_written")
            out["ratio_list_to_bare"] = _ratio(out, "list_runtime", "list_hand_bare")
        if "records" in only:
            out.update(_compare(records, N))
            out["ratio_record"] = _ratio(out, "record_runtime", "record_hand_written")
        if "record_parts" in only:  # each request of the record page on its own
            parts = {
                f"{name}_{i}": (client, [url])
                for name, (client, urls) in records.items()
                for i, url in enumerate(urls)
            }
            out.update(_compare(parts, N))
        if "scoped" in only:
            out.update(_compare(scoped, N))
            out["ratio_list_subtree"] = _ratio(
                out, "list_subtree_runtime", "list_subtree_hand_written"
            )
            out["ratio_subtree_to_unscoped"] = _ratio(
                out, "list_subtree_runtime", "list_unscoped_runtime"
            )
        if "own" in only:
            out.update(_compare(own, N))
            out["ratio_list_own"] = _ratio(out, "list_own_runtime", "list_own_hand_written")
            out["ratio_own_to_read_all"] = _ratio(
                out, "list_own_runtime", "list_own_rows_read_all_runtime"
            )
        if "dept" in only:
            out.update(_compare(dept, N))
            out["ratio_list_dept"] = _ratio(out, "list_dept_runtime", "list_dept_hand_written")
        if "search" in only:
            out.update(_compare(search, SEARCH_N))
            for label in ("rare", "common"):
                for part in ("", "_count"):
                    name = f"search_{label}{part}"
                    out[f"ratio_{name}"] = _ratio(out, f"{name}_runtime", f"{name}_hand_written")
        if "lazy" in only:
            out.update(_compare(lazy, N))
        # The process served every request above: its resident memory now, and its peak
        # (which includes filling the database when it was not kept from a previous run).
        out["worker_rss_mb"] = _rss_mb()
        out["worker_max_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        )
        db.session.rollback()
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _picked(body: str) -> list[str]:
    return re.findall(r'name="pick" value="([0-9]+):', body)


def _check(pages: dict[str, Page], out: dict) -> None:
    """Warm every page (compiled templates, caches), count its queries (no page view may
    run an exact count; count fragments are capped counts), and check that the runtime
    and hand-written pages show the same records. Raises AssertionError when not."""
    bodies, statements = {}, []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for name, (client, urls) in pages.items():
            bodies[name] = [client.get(u, headers=h).data.decode() for u, h in urls]
            statements.clear()
            responses = [client.get(u, headers=h) for u, h in urls]
            for (url, _), response in zip(urls, responses, strict=True):
                assert response.status_code == 200, (name, url, response.status_code)
            bodies[name] = [r.data.decode() for r in responses]
            out[f"{name}_queries"] = len([s for s in statements if s != "BEGIN"])
            if os.environ.get("BENCH_SQL") in (name, name.removesuffix("_runtime")):
                print("\n".join(f"-- {' '.join(s.split())[:300]}" for s in statements))
            counts = [s for s in statements if "count(" in s.lower()]
            assert "_count" in name or not counts, (name, counts)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    for runtime, hand in (
        ("list_runtime", "list_hand_written"),
        ("list_subtree_runtime", "list_subtree_hand_written"),
        ("list_own_runtime", "list_own_hand_written"),
        ("list_dept_runtime", "list_dept_hand_written"),
        ("search_common_runtime", "search_common_hand_written"),
    ):
        _same_rows(bodies, runtime, hand, 50)
    _same_rows(bodies, "search_rare_runtime", "search_rare_hand_written", RARE_MATCHES)
    # Short terms read at most SHORT_SCAN_ROWS rows: "zq" finds nothing there and says so
    # (with a link to look further); "7" fills a page from them.
    short2 = bodies["search_short2_runtime"][0]
    assert _picked(short2) == [], "a term matching nothing"
    assert "Refine your search: type at least 3 characters" in short2, "no refine notice"
    assert len(_picked(bodies["search_short1_runtime"][0])) == 50, "a one-character term"
    for label in ("short1", "short2"):
        shown = bodies[f"search_{label}_count_runtime"][0]
        out[f"search_{label}_count_shown"] = " ".join(shown.split())
    for label in ("rare", "common"):
        runtime = _number(bodies[f"search_{label}_count_runtime"][0])
        hand = _number(bodies[f"search_{label}_count_hand_written"][0])
        assert runtime == hand, (f"search_{label}_count", runtime, hand)
        out[f"search_{label}_count_shown"] = runtime
    unscoped = _picked(bodies["list_unscoped_runtime"][0])
    assert unscoped != _picked(bodies["list_subtree_runtime"][0])  # the scope does narrow
    for rep, page in ((OWN_REP, "list_own_runtime"), (dept_rep(), "list_dept_runtime")):
        # The shares are on the first page: the rows the OR-with-shares path adds count.
        shared = _shared_with(rep)
        shown = {int(i) for i in _picked(bodies[page][0])}
        out[f"{page.removesuffix('_runtime')}_shared_shown"] = len(shown & shared)
        assert shown & shared, (page, "no shared record on the first page")
    for i in (1, 2):
        runtime = bodies["record_runtime"][i].count("<tr>") - 1  # the header row
        hand = bodies["record_hand_written"][i].count("<tr>") - 1
        assert runtime == hand == 10, (i, runtime, hand)
    out["list_rows_shown"] = 50
    out["related_rows_shown"] = 10


def _same_rows(bodies: dict, runtime: str, hand: str, expected: int) -> None:
    """Fail loudly unless both pages list the same ``expected`` record ids, in order."""
    shown, written = _picked(bodies[runtime][0]), _picked(bodies[hand][0])
    if len(shown) != expected or shown != written:
        raise AssertionError(
            f"{runtime} and {hand} differ: {len(shown)} and {len(written)} rows "
            f"(expected {expected}); first ids {shown[:5]} and {written[:5]}"
        )


def _number(body: str) -> int:
    """The number in a count fragment ("1,234 accounts", "10,000+ accounts")."""
    found = re.search(r"[0-9][0-9,]*", body)
    assert found, body
    return int(found.group().replace(",", ""))


def _shared_with(user_id: int) -> set[int]:
    """Accounts shared with ``user_id`` or their department (the bench shares no higher)."""
    user = db.session.get(User, user_id)
    return set(
        db.session.scalars(
            select(RecordShare.record_id).where(
                RecordShare.entity_key == "account",
                or_(
                    RecordShare.user_id == user_id,
                    RecordShare.department_id == user.department_id,
                ),
            )
        )
    )


def main() -> None:
    run_on_databases("list", run, ROWS)
