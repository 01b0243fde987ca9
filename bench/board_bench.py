"""The kanban board (issue 14): a board of REP_CARDS (5,000 at 1,000,000) visible cards
over BENCH_ROWS (default 1,000,000) deals, beside hand-written pages doing the same.

The data is ``bench.board_data``'s, the hand-written pages ``bench.board_pages``'s.
Signed in as the rep (level OWN: their own deals only), through the full Flask stack
(routing, sign-in, CSRF, access policy, template), each request in its own app context and
database session, each runtime request beside its hand-written twin, interleaved in rounds:

- ``board``: GET /r/deal/board, the whole page (every column's count, sum and weighted
  forecast, its first 20 cards, the totals), beside /bench/hand/board;
- ``more``: one column's next page, the "Show more" URL the board links (htmx), beside
  the hand-written page's own link;
- ``move``: POST a move of one card to the next stage with the version it has (htmx, CSRF
  header), back and forth between two stages without gates so every move is a real move
  (one update, one history row, one stage-history row), beside a hand-written move of
  another card doing exactly that in one transaction.

Before timing, the runtime and hand-written boards must show the same columns, counts,
sums, forecasts and cards in order, and the same next page; else the run fails. Queries
per request are counted. Each sample is timed by wall clock and by CPU (this process's,
plus on PostgreSQL the server processes serving the database: their per-process CPU
clocks, as ``bench.search_bench`` reads them; parallel workers are switched off for the
benchmark's database so none escapes that clock). BENCH_CLOCK=cpu makes CPU the headline
(``median_ms``, ``p99_ms``, ratios). Targets: first render ≤ 150 ms, move ≤ 30 ms, each
runtime / hand-written ratio ≤ 1.15 (medians).

BENCH_REQUESTS (default 300) samples per request kind; BENCH_KEEP_DB=1 keeps the filled
databases (``bench/data/board_<rows>.sqlite``, PostgreSQL ``atelier_bench_board_<rows>``);
BENCH_SQL=board|more|move prints the statements of one runtime request. Figures go to
``bench/results/board.json``, merged per engine (run the engines one at a time with
BENCH_DATABASES=sqlite, then postgresql).
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import re
import statistics
import time

import psycopg
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url

from bench import board_pages
from bench.board_data import MOVE_STAGES, REP, REP_CARDS, ROWS, setup
from bench.common import RESULTS, app_on, database, postgres_available, save
from crm.access.models import User
from crm.auth import service as auth
from crm.extensions import db
from crm.metadata import specs
from crm.pipelines.models import StageMove
from tests.support.client import CRMClient

N = int(os.environ.get("BENCH_REQUESTS", "300"))
HEADLINE = "cpu" if os.environ.get("BENCH_CLOCK") == "cpu" else "wall"
TARGETS = {"board_ms": 150.0, "move_ms": 30.0, "ratio": 1.15}
HX = {"HX-Request": "true"}
BOARD = "/r/deal/board"
HAND_BOARD = "/bench/hand/board"


# --- clocks ---------------------------------------------------------------------------------


class Clock:
    """CPU of this process plus, on PostgreSQL, of the server processes of the benchmark's
    database (looked up before each sample through a connection of its own, not counted)."""

    def __init__(self, url: str | None):
        self.conn = None
        if url is not None:
            dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
            self.conn = psycopg.connect(dsn, autocommit=True)
        self.pids: list[int] = []

    def refresh(self) -> None:
        if self.conn is not None:
            self.pids = [
                r[0]
                for r in self.conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
            ]

    def cpu(self) -> float:
        total = time.process_time()
        for pid in self.pids:
            with contextlib.suppress(OSError):  # gone since the lookup
                total += time.clock_gettime(((~pid) << 3) | 2)  # CPUCLOCK_SCHED of ``pid``
        return total

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    n = len(ordered)
    return {
        "n": n,
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[math.ceil(0.99 * n) - 1], 3),  # nearest rank
    }


def _figures(wall: list[float], cpu: list[float]) -> dict:
    both = {"wall": _stats(wall), "cpu": _stats(cpu)}
    head = both[HEADLINE]
    return {"median_ms": head["median_ms"], "p99_ms": head["p99_ms"], **both}


# --- requests -------------------------------------------------------------------------------


def _client(app, user_id: int) -> CRMClient:
    client = app.test_client()
    session = auth.open_session(db.session.get(User, user_id), ip=None, user_agent="bench")
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = session.token
    return client


class Mover:
    """Moves one card back and forth between MOVE_STAGES, knowing its version."""

    def __init__(self, client: CRMClient, url: str, record_id: int):
        table = specs.current().table("deal")
        row = db.session.execute(
            select(table.c.version, table.c.stage).where(table.c.id == record_id)
        ).one()
        db.session.commit()
        self.client, self.url, self.id = client, url, record_id
        self.version, self.stage = row.version, row.stage
        self.token = client.csrf_token()
        self.moves = 0

    def __call__(self):
        to = MOVE_STAGES[1] if self.stage == MOVE_STAGES[0] else MOVE_STAGES[0]
        data = {"stage": to, "version": self.version, "from": self.stage, "pipeline": "sales"}
        response = self.client.post(
            self.url.format(id=self.id), data=data, headers={**HX, "X-CSRFToken": self.token}
        )
        assert response.status_code == 200, (self.url, response.status_code, response.text)
        assert "moved to" in response.text, response.text
        self.version, self.stage = self.version + 1, to
        self.moves += 1
        return response


def _getter(client: CRMClient, url: str, headers: dict | None = None):
    def get():
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, (url, response.status_code)
        return response

    return get


# --- checks ---------------------------------------------------------------------------------


def _columns(body: str) -> list[dict]:
    """Each column of a board page: stage, count, sum, forecast, card ids in order."""
    out = []
    for part in body.split('data-column="')[1:]:
        out.append(
            {
                "stage": part.split('"', 1)[0],
                "count": re.search(r"data-count>([^<]*)<", part).group(1).strip(),
                "amount": re.search(r"data-amount>([^<]*)<", part).group(1).strip(),
                "forecast": re.search(r"data-forecast>([^<]*)<", part).group(1).strip(),
                "cards": re.findall(r'data-card="([0-9]+)"', part),
            }
        )
    return out


def _totals(body: str) -> tuple:
    return tuple(
        re.search(rf"data-total-{k}>([^<]*)<", body).group(1).split()[0]
        for k in ("count", "amount", "forecast")
    )


def _more_url(body: str, prefix: str) -> str:
    """The "Show more" URL of the board's first column with one."""
    found = re.search(rf'hx-get="({re.escape(prefix)}[^"]+/more[^"]*)"', body)
    assert found, f"no 'Show more' link under {prefix}"
    return html.unescape(found.group(1))


def _check(runtime: str, hand: str, out: dict) -> None:
    """Fail unless both boards show the same columns, figures and cards, in order."""
    shown, written = _columns(runtime), _columns(hand)
    assert [c["stage"] for c in shown] == [c["stage"] for c in written], "columns differ"
    for a, b in zip(shown, written, strict=True):
        assert a == b, (a["stage"], {k: (a[k], b[k]) for k in a if a[k] != b[k]})
    assert _totals(runtime) == _totals(hand), (_totals(runtime), _totals(hand))
    out["board_cards_shown"] = sum(len(c["cards"]) for c in shown)
    out["board_count"] = _totals(runtime)[0]
    out["board_columns"] = {c["stage"]: int(c["count"].replace(",", "")) for c in shown}


def _queries(get, name: str, out: dict) -> None:
    """Count the statements of one request (and print them for BENCH_SQL=name)."""
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        get()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    out[f"{name}_queries"] = len([s for s in statements if s != "BEGIN"])
    if os.environ.get("BENCH_SQL") == name.removesuffix("_runtime"):
        print("\n".join(f"-- {' '.join(s.split())[:400]}" for s in statements))


# --- running --------------------------------------------------------------------------------


def _compare(pages: dict, clock: Clock, n: int) -> dict:
    """Time each request ``n`` times, interleaved in rounds so all see the same machine."""
    wall = {k: [] for k in pages}
    cpu = {k: [] for k in pages}
    rounds = 10
    for _ in range(rounds):
        for name, run in pages.items():
            for _ in range(max(1, n // rounds)):
                clock.refresh()
                c0, w0 = clock.cpu(), time.perf_counter()
                run()
                w1, c1 = time.perf_counter(), clock.cpu()
                wall[name].append((w1 - w0) * 1000)
                cpu[name].append((c1 - c0) * 1000)
    return {k: _figures(wall[k], cpu[k]) for k in pages}


def _pick_cards() -> tuple[int, int]:
    """Two of REP's deals in the first move stage (or the second), below the first page."""
    table = specs.current().table("deal")
    ids = db.session.scalars(
        select(table.c.id)
        .where(table.c.owner_id == REP, table.c.stage.in_(MOVE_STAGES))
        .order_by(table.c.id)
        .limit(2)
    ).all()
    db.session.commit()
    return ids[0], ids[1]


def _no_parallel_workers(url: str) -> None:
    """PostgreSQL: no parallel workers on the benchmark's database (their CPU would escape
    the clock of the session's server process)."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f'ALTER DATABASE "{name}" SET max_parallel_workers_per_gather = 0')


def run(kind: str) -> dict:
    out: dict = {"rows": ROWS, "rep_cards_expected": REP_CARDS, "headline_clock": HEADLINE}
    with database(kind, keep_as=f"board_{ROWS}") as url:
        if kind == "postgresql":
            _no_parallel_workers(url)
        with app_on(url) as app:
            app.test_client_class = CRMClient
            setup(kind, out)
            if kind == "sqlite":
                out["engine_version"] = db.session.scalar(text("SELECT sqlite_version()"))
            else:
                out["engine_version"] = db.session.scalar(text("SHOW server_version"))
            db.session.commit()
            board_pages.register(app)
            rep = _client(app, REP)
            runtime_body = _getter(rep, BOARD)().text
            hand_body = _getter(rep, HAND_BOARD)().text
            _check(runtime_body, hand_body, out)
            more_url = _more_url(runtime_body, "/r/deal/board/")
            hand_more_url = _more_url(hand_body, "/bench/hand/board/")
            more = _getter(rep, more_url, HX)().text
            hand_more = _getter(rep, hand_more_url, HX)().text
            ids = re.findall(r'data-card="([0-9]+)"', more)
            written = re.findall(r'data-card="([0-9]+)"', hand_more)
            assert ids and ids == written, ("next pages differ", ids, written)
            out["more_cards_shown"] = len(ids)
            a, b = _pick_cards()
            pages = {
                "board_runtime": _getter(rep, BOARD),
                "board_hand_written": _getter(rep, HAND_BOARD),
                "more_runtime": _getter(rep, more_url, HX),
                "more_hand_written": _getter(rep, hand_more_url, HX),
                "move_runtime": Mover(rep, "/r/deal/{id}/move", a),
                "move_hand_written": Mover(rep, "/bench/hand/move/{id}", b),
            }
            for name, get in pages.items():
                get()  # warm
                _queries(get, name, out)
            clock = Clock(url if kind == "postgresql" else None)
            load_before = os.getloadavg()
            start = time.perf_counter()
            try:
                out.update(_compare(pages, clock, N))
            finally:
                clock.close()
            out["timing"] = {
                "seconds": round(time.perf_counter() - start, 1),
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            }
            for what in ("board", "more", "move"):
                out[f"ratio_{what}"] = round(
                    out[f"{what}_runtime"]["median_ms"] / out[f"{what}_hand_written"]["median_ms"],
                    3,
                )
            _check_moves(pages, out)
            board_ms, move_ms = (out[f"{w}_runtime"]["median_ms"] for w in ("board", "move"))
            out["targets"] = {
                "board_median_under_150ms": board_ms <= TARGETS["board_ms"],
                "move_median_under_30ms": move_ms <= TARGETS["move_ms"],
                **{f"ratio_{w}_under_1.15": out[f"ratio_{w}"] <= TARGETS["ratio"]
                   for w in ("board", "more", "move")},
            }  # fmt: skip
            db.session.rollback()
    return out


def _check_moves(pages: dict, out: dict) -> None:
    """Every timed move wrote one stage-history row (runtime and hand-written alike)."""
    for name in ("move_runtime", "move_hand_written"):
        mover = pages[name]
        written = db.session.scalar(
            select(func.count())
            .select_from(StageMove)
            .where(StageMove.record_id == mover.id, StageMove.from_stage.is_not(None))
        )
        db.session.commit()
        out[f"{name}_moves"] = mover.moves
        assert written >= mover.moves, (name, written, mover.moves)


def main() -> None:
    """Run on each engine of BENCH_DATABASES; merge the figures into the results file (an
    engine not run keeps its earlier figures)."""
    kinds = [k for k in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",") if k]
    name = "board" if ROWS == 1_000_000 else f"board-{ROWS}"
    path = RESULTS / f"{name}.json"
    for kind in kinds:
        if kind == "postgresql" and not postgres_available():
            print("PostgreSQL not available: skipped")
            continue
        print(f"--- board benchmark on {kind}, {ROWS:,} rows ---", flush=True)
        figures = run(kind)
        for key, value in figures.items():
            print(f"{key:>32}: {value}")
        results = json.loads(path.read_text()) if path.exists() else {}
        results[kind] = figures
        save(name, results)
    print(f"written to {path}")
