"""A local receiver for webhooks (``http.server`` on 127.0.0.1, a free port, in a thread),
a frozen clock, and a resolver that keeps host names off the network."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crm.jobs import outbox
from crm.webhooks import service, urls

PUBLIC = "93.184.215.14"  # a public address (documentation hosts resolve here in tests)


@dataclass
class Receiver:
    """What the local server received, and the answers it gives (in order; the last one
    repeats)."""

    port: int
    answers: list[int] = field(default_factory=lambda: [200])
    requests: list[dict] = field(default_factory=list)
    on_request: Callable[[], None] | None = None  # runs while a request is being answered

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?x=1"


@contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 at a free port (over TLS with ``tls``), until the block ends."""
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            if state.on_request is not None:
                state.on_request()
            index = min(len(state.requests), len(state.answers)) - 1
            code = state.answers[index]
            reply = f"answer {code}".encode()
            self.send_response(code)
            if 300 <= code < 400:
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as state:
        yield state


class Clock:
    """A frozen "now" (naive UTC) that a test moves by hand."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    @property
    def timestamp(self) -> float:
        return self.now.replace(tzinfo=UTC).timestamp()


@pytest.fixture
def clock(monkeypatch) -> Clock:
    frozen = Clock(datetime(2026, 3, 1, 12, 0, 0))
    monkeypatch.setattr(service, "utcnow", frozen)
    monkeypatch.setattr(outbox, "utcnow", frozen)
    return frozen


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[str]]:
    """Names tests resolve, by hand: anything else does not resolve (no network)."""
    table: dict[str, list[str]] = {"hooks.example.com": [PUBLIC], "localhost": ["127.0.0.1"]}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("name not known")
        return list(table[host])

    monkeypatch.setattr(urls, "resolve", resolve)
    return table
