"""Browser tests: Playwright driving Debian's Chromium against a live server on loopback.

Never downloads a browser. Without Chromium these tests are skipped (``make test`` says
so; CI treats any skip as a failure). Screenshots go to ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from crm.extensions import db
from tests.conftest import build_app
from tests.factories import PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

# Assertions wait for the page (htmx answers included) up to 15 s, not Playwright's 5 s:
# on a two-core machine the other test worker, the live server and Chromium share the
# cores, and a swap that takes 200 ms alone has been seen to take several seconds.
try:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
except ImportError:  # pragma: no cover - without Playwright the browser tests are skipped
    pass
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    path = os.environ.get("ATELIER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if not path:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _whole_answers(app):
    """Werkzeug's development server does not close an answer's iterable when the browser
    drops the connection halfway (a favicon fetch abandoned as a test ends), and the open
    file then raises a ResourceWarning wherever it is collected, failing another test's
    teardown. The test server reads each answer whole and closes it before sending."""

    def wsgi(environ, start_response):
        answer = app(environ, start_response)
        try:
            return [b"".join(answer)]
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    return wsgi


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, _whole_answers(app), threaded=True)
        # Request threads are joined when the server closes: a lazy fragment the page
        # asked for just before the test ended must not still be reading the database
        # while the next test resets it (on PostgreSQL that deadlocked the reset).
        self.server.daemon_threads = False
        self.server.block_on_close = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()


@pytest.fixture
def live_server(db_url, tmp_path) -> Iterator[LiveServer]:
    app = build_app(db_url, str(tmp_path / "instance"))
    with LiveServer(app) as server:
        yield server
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))

    def on_console(msg):
        # A 4xx answer to a form is expected behaviour (Chromium logs it, and so does htmx
        # when it swaps in the explaining fragment); anything else logged as an error (a CSP
        # violation, a failed script, a 5xx) is a bug.
        expected_4xx = "the server responded with a status of 4" in msg.text or msg.text.startswith(
            "Response Status Error Code 4"
        )
        if msg.type == "error" and not expected_4xx:
            errors.append(f"{page.url}: {msg.text}")

    page.on("console", on_console)
    yield page
    context.close()
    # A CSP violation or a script error is a bug even when the page looks fine.
    assert errors == [], "\n".join(errors)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # caret="initial": hiding the caret makes Playwright inject a <style>, which our CSP
    # (rightly) blocks and reports as a console error.
    page.screenshot(path=str(path), full_page=True, caret="initial")
    return path


def sign_in(page, url: str, email: str) -> None:
    """Sign in through the log-in page as ``email`` (password ``PASSWORD``) and wait for
    the home page."""
    page.goto(url + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")
