"""A staff member imports a messy CSV in Chromium (issue 16): upload, the reader's guesses,
a column mapped by hand and a typo'd picklist value fixed, the dry run, the run's progress
bar on a real queue (a worker thread of this test), the list with its error file, undo."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.jobs import progress, queue
from crm.schema import service
from tests.conftest import build_app
from tests.e2e.conftest import LiveServer, screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e

ROWS = 1_200  # three batches of 500
MESSY = (
    "\ufeffCompany name;Industry;Staff\r\n"
    + "Acme;Tech;10\r\n"
    + "Globex;technolgy;20\r\n"
    + "Initech;Retail;lots\r\n"
    + "".join(f"Company {i};Retail;{i}\r\n" for i in range(ROWS - 3))
).encode()


@pytest.fixture
def queued_server(db_url, tmp_path) -> Iterator[LiveServer]:
    """A live server whose jobs go to a real Huey queue (its SQLite file), not run at once."""
    app = build_app(
        db_url,
        str(tmp_path / "instance"),
        JOBS_IMMEDIATE=False,
        JOBS_FILE=str(tmp_path / "jobs.db"),
    )
    with LiveServer(app) as server:
        yield server
    with app.app_context():
        db.engine.dispose()


class Worker(threading.Thread):
    """The queue's consumer for one job, holding the import after its first progress
    report until the test has seen the bar move (``release``): no race with the page."""

    def __init__(self, app) -> None:
        super().__init__(daemon=True)
        self.app, self.seen, self.go_on = app, threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def report(self, job_id: int, done: int, total: int, message: str, unit="step") -> None:
        self.original(job_id, done, total, message, unit)
        if done > 0 and not self.go_on.is_set():
            self.seen.set()
            self.go_on.wait(60)

    def run(self) -> None:
        try:
            with self.app.app_context():
                huey = queue.current().huey
                task = None
                while task is None and not self.go_on.is_set():
                    task = huey.dequeue()
                    if task is None:
                        self.go_on.wait(0.05)  # polls the queue file, as the consumer does
                if task is not None:
                    huey.execute(task)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def test_import_a_messy_csv_from_the_browser(queued_server, page, tmp_path, monkeypatch):
    live_server = queued_server
    app = live_server.app
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account",
            "Account",
            fields=[
                {"key": "name", "type": "text", "label": "Company name", "required": True},
                {"key": "industry", "type": "picklist", "label": "Industry",
                 "choices": [{"key": "retail", "label": "Retail"},
                             {"key": "tech", "label": "Tech"}]},
                {"key": "employees", "type": "integer", "label": "Employees"},
            ],
            name_field="name",
            actor_id=admin.id,
        )  # fmt: skip
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + "/r/account/")
    page.get_by_role("link", name="Import").click()
    path = tmp_path / "accounts.csv"
    path.write_bytes(MESSY)
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="accounts.csv")).to_be_visible()
    expect(page.locator("select[name=delimiter]")).to_have_value(";")
    staff = page.get_by_label("Field for Staff")
    expect(staff).to_have_value("")  # "Staff" names no field: the user maps it by hand
    staff.select_option("employees")
    page.get_by_label("Import technolgy as").select_option("tech")
    screenshot(page, "import-mapping")
    page.get_by_role("button", name="Preview and dry run").click()
    expect(page.locator(".dry-counts")).to_contain_text(f"{ROWS - 1:,} to create")
    expect(page.locator(".dry-counts")).to_contain_text("1 in error")
    screenshot(page, "import-dry-run")
    worker = Worker(app)
    worker.original = progress.report
    monkeypatch.setattr(progress, "report", worker.report)
    worker.start()
    try:
        page.get_by_role("button", name="Start the import").click()
        assert worker.seen.wait(60), worker.error
        bar = page.locator("#job-status progress")
        expect(bar).to_have_attribute("value", "42")  # 500 of 1,200 rows
        expect(page.locator("#job-status")).to_contain_text(f"500 of {ROWS:,} rows")
        screenshot(page, "import-progress")
    finally:
        worker.go_on.set()
        worker.join(60)
    assert worker.error is None, worker.error
    expect(page.locator("#job-status")).to_contain_text(f"Created: {ROWS - 1:,}")
    screenshot(page, "import-job")
    page.get_by_role("link", name="See the imports").click()
    row = page.locator("tr[data-import]")
    expect(row).to_contain_text("accounts.csv")
    with page.expect_download() as download:
        row.get_by_role("link", name="1 · error file").click()
    assert "Initech" in download.value.path().read_text(encoding="utf-8-sig")
    screenshot(page, "import-list")
    row.locator("summary", has_text="Undo").click()
    screenshot(page, "import-undo-confirm")
    row.get_by_role("button", name="Yes, undo the import").click()
    expect(page.locator("body")).to_contain_text(f"{ROWS - 1:,} records sent to the recycle bin")
    screenshot(page, "import-undone")
