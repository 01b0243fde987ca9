"""The list page under load: the real app under gunicorn beside the hand-written page (issue 12).

Serves ``bench.load_app`` (the app plus the hand-written pages) with BENCH_WORKERS
(default 2) sync workers on 127.0.0.1 and a free port, on the list benchmark's database
(``bench.list_data``: BENCH_ROWS accounts, BENCH_KEEP_DB reuses it). A load generator in
this process, BENCH_CLIENTS (default 8) threads each with its own ``http.client``
connection and its own signed-in sessions (a session row opened through
``crm.auth.service.open_session``, its cookie signed with the server's secret, as a
sign-in would set it), asks one page at a time as fast as answers come:

- ``list``: the runtime list (owner = me, newest first) and its hand-written twin;
- ``list_own``: an "own records" rep's list (their records and those shared with them)
  and its hand-written twin;

alternating over BENCH_ROUNDS (default 4) rounds so that drift on the machine hits every
page, BENCH_SECONDS (default 20) per page in all, at most BENCH_MAX_REQUESTS (default
100,000) requests per page. Reports requests per second, p50 and p99 latency and errors
per page, and the ratio runtime / hand-written throughput (target >= 0.9).
BENCH_SERVER_LOG=<file> keeps the server's log (errors with their tracebacks) there. Any answer
other than 200 fails the run. Gunicorn's sync workers close the connection after each
answer (no keep-alive), so each request opens a connection, as it would behind a proxy
that does not pool. The server is stopped at the end, whatever happens (its whole process
group).
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import app_on, database, run_on_databases
from bench.list_data import OWN_REP, OWNER, ROWS, setup
from crm.access.models import User
from crm.auth import service as auth
from crm.extensions import db

WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
MAX_REQUESTS = int(os.environ.get("BENCH_MAX_REQUESTS", "100000"))
TARGET = 0.9
HOST = "127.0.0.1"  # loopback only
ROOT = Path(__file__).resolve().parent.parent
MINE = "/r/account/?f.owner_id.is_me=&sort=-updated_at&size=50"
EVERYTHING = "/r/account/?sort=-updated_at&size=50"
# name -> (who asks, path); pairs of a runtime page and its hand-written twin.
PAGES = {
    "list_runtime": (OWNER, MINE),
    "list_hand_written": (OWNER, "/bench/hand/list"),
    "list_own_runtime": (OWN_REP, EVERYTHING),
    "list_own_hand_written": (OWN_REP, "/bench/hand/list/own"),
}
PAIRS = {"list": ("list_runtime", "list_hand_written"),
         "list_own": ("list_own_runtime", "list_own_hand_written")}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextmanager
def served(url: str, secret: str) -> Iterator[int]:
    """Gunicorn serving ``bench.load_app`` on ``url``'s database; yields its port. Stops
    the server's process group on leaving, on error too; raises RuntimeError when it
    does not answer within 60 seconds."""
    port = _free_port()
    with (
        tempfile.TemporaryDirectory() as instance,
        open(os.environ.get("BENCH_SERVER_LOG") or Path(instance) / "log", "w+") as log,
    ):
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": secret,
            "ATELIER_INSTANCE_PATH": instance,
        }
        command = [
            sys.executable, "-m", "gunicorn", "--workers", str(WORKERS),
            "--worker-class", "sync", "--bind", f"{HOST}:{port}", "--chdir", str(ROOT),
            "--timeout", "120", "--graceful-timeout", "5", "--log-level", "warning",
            "bench.load_app:create()",
        ]  # fmt: skip
        server = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_until_up(server, port, log)
            yield port
        finally:
            _stop(server)


def _wait_until_up(server: subprocess.Popen, port: int, log) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gunicorn exited ({server.returncode}):\n{log.read()[-3000:]}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/login")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)  # the server is still starting: poll again
    raise RuntimeError("gunicorn did not answer within 60 seconds")


def _stop(server: subprocess.Popen) -> None:
    """TERM the server's process group (master and workers), KILL it if still there."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=20)


class Client:
    """One simulated browser: a connection and a session cookie per user it acts as,
    kept up to date from the answers' Set-Cookie as a browser would."""

    def __init__(self, port: int, cookies: dict[int, str], cookie_name: str):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.cookies = dict(cookies)
        self.cookie_name = cookie_name

    def get(self, user_id: int, path: str) -> tuple[int, bytes]:
        headers = {"Cookie": f"{self.cookie_name}={self.cookies[user_id]}"}
        try:
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # the next request reconnects
            raise
        for value in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            if name.strip() == self.cookie_name:
                self.cookies[user_id] = rest.split(";", 1)[0]
        return response.status, body

    def close(self) -> None:
        self.conn.close()


def _phase(clients: list[Client], user_id: int, path: str, seconds: float, cap: int) -> dict:
    """Every client asks ``path`` in a loop for ``seconds`` or until ``cap`` requests in
    all; returns the latencies, the errors and the elapsed time."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    asked = [0]

    def work(client: Client) -> None:
        mine, failed = [], []
        while time.perf_counter() < deadline:
            with lock:
                if asked[0] >= cap:
                    break
                asked[0] += 1
            start = time.perf_counter()
            try:
                status, _ = client.get(user_id, path)
            except (OSError, http.client.HTTPException) as exc:
                failed.append(f"{path}: {exc!r}")
                continue
            mine.append(time.perf_counter() - start)
            if status != 200:
                failed.append(f"{path}: HTTP {status}")
        with lock:
            latencies.extend(mine)
            errors.extend(failed)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "errors": errors, "seconds": time.perf_counter() - start}


def _summary(phases: list[dict]) -> dict:
    latencies = sorted(x for p in phases for x in p["latencies"])
    seconds = sum(p["seconds"] for p in phases)
    errors = [e for p in phases for e in p["errors"]]
    n = len(latencies)
    return {
        "requests": n,
        "seconds": round(seconds, 1),
        "rps": round(n / seconds, 1) if seconds else 0.0,
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if n else None,
        "p99_ms": round(latencies[min(n - 1, int(n * 0.99))] * 1000, 2) if n else None,
        "errors": len(errors),
        "first_errors": errors[:5],
    }


def _picked(body: bytes) -> list[str]:
    return re.findall(r'name="pick" value="([0-9]+):', body.decode())


def _cookies(app, secret: str) -> list[dict[int, str]]:
    """For each client, a signed session cookie per user: a session row opened as a
    sign-in opens it, in a cookie signed with the server's secret."""
    app.config["SECRET_KEY"] = secret  # this process serves nothing: only signs
    signer = app.session_interface.get_signing_serializer(app)
    users = sorted({user_id for user_id, _ in PAGES.values()})
    out = []
    for _ in range(CLIENTS):
        cookies = {}
        for user_id in users:
            row = auth.open_session(db.session.get(User, user_id), ip=HOST, user_agent="load")
            cookies[user_id] = signer.dumps({"_user_id": row.token})
        out.append(cookies)
    db.session.commit()
    return out


def run(kind: str) -> dict:
    out: dict = {"rows": ROWS, "workers": WORKERS, "clients": CLIENTS, "rounds": ROUNDS}
    secret = secrets.token_urlsafe(32)
    with database(kind, keep_as=f"list_{ROWS}") as url, app_on(url) as app:
        setup(kind, out)
        cookies = _cookies(app, secret)
        cookie_name = app.config["SESSION_COOKIE_NAME"]
        db.session.remove()  # no connection of ours stays open beside the server's
        with served(url, secret) as port:
            clients = [Client(port, c, cookie_name) for c in cookies]
            try:
                _check(clients[0])
                phases: dict[str, list[dict]] = {name: [] for name in PAGES}
                for _ in range(ROUNDS):
                    for name, (user_id, path) in PAGES.items():
                        phases[name].append(
                            _phase(clients, user_id, path, SECONDS / ROUNDS, MAX_REQUESTS // ROUNDS)
                        )
            finally:
                for c in clients:
                    c.close()
        out.update({name: _summary(p) for name, p in phases.items()})
    for pair, (runtime, hand) in PAIRS.items():
        out[f"ratio_{pair}_throughput"] = round(out[runtime]["rps"] / out[hand]["rps"], 3)
        out[f"{pair}_meets_target"] = out[f"ratio_{pair}_throughput"] >= TARGET
    failed = {name: out[name]["errors"] for name in PAGES if out[name]["errors"]}
    if failed:
        raise AssertionError(f"requests failed under load: {failed}: {out}")
    return out


def _check(client: Client) -> None:
    """Each pair lists the same records (and answers 200) before any load."""
    for runtime, hand in PAIRS.values():
        shown = []
        for name in (runtime, hand):
            user_id, path = PAGES[name]
            status, body = client.get(user_id, path)
            assert status == 200, (name, status)
            shown.append(_picked(body))
        assert len(shown[0]) == 50 and shown[0] == shown[1], (runtime, hand, shown)


def main() -> None:
    if importlib.util.find_spec("gunicorn") is None:
        print("gunicorn is not installed (pip install -e '.[prod]'): load benchmark skipped")
        return
    run_on_databases("load", run, ROWS)
