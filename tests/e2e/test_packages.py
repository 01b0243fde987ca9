"""An implementer brings an updated package into a company in Chromium: uploads it, reads
the plan, resolves a conflict, applies it (a background job: its page shows the outcome),
and finds the new entity in the navigation."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user
from tests.packages.test_apply import install, package

pytestmark = pytest.mark.e2e

CONFLICT = "/entities/deal/fields/amount/label"


def test_upload_plan_resolve_apply(live_server, page, tmp_path):
    with live_server.app.app_context():
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        install()
        service.update_field("deal", "amount", label="Deal value")  # a local change
    v2 = package("2.0.0")
    v2["entities"]["deal"]["fields"]["amount"]["label"] = "Value"
    v2["entities"]["ticket"] = {
        "label_singular": "Ticket",
        "label_plural": "Tickets",
        "name_field": "subject",
        "fields": {"subject": {"type": "text", "label": "Subject", "position": 10}},
    }
    path = tmp_path / "b2b-sales-2.0.0.json"
    path.write_text(json.dumps(v2), encoding="utf-8")

    sign_in(page, live_server.url, "ada@example.com")
    page.goto(live_server.url + "/admin/packages")
    page.get_by_label("Package file").set_input_files(str(path))
    page.get_by_role("button", name="Show the plan").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Plan: “b2b-sales” 2.0.0")
    expect(page.locator("#pkg-entity-ticket")).to_contain_text("Added")
    conflict = page.locator("tr.pkg-conflict")
    expect(conflict).to_contain_text("Deal value")
    expect(conflict).to_contain_text("Value")
    screenshot(page, "packages-plan")

    # Applying without a choice is refused and says why; nothing changed.
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".notice-error")).to_contain_text("Nothing was changed.")
    expect(page.locator("tr.pkg-conflict")).to_contain_text("choose keep mine or take theirs")

    page.locator("tr.pkg-conflict").get_by_label("Take theirs").check()
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(re.escape(live_server.url) + r"/admin/jobs/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("b2b-sales")
    # The job page polls until the job is done (in tests it ran on commit), then stops.
    status = page.locator("#job-status")
    expect(status).to_have_attribute("data-status", "done")
    expect(status.locator(".notice-success")).to_contain_text("Applied the package")
    screenshot(page, "packages-job-done")
    page.get_by_role("link", name="Open the configuration").click()
    page.wait_for_url(live_server.url + "/admin/")
    expect(page.locator(".designer-nav")).to_contain_text("Tickets")
    expect(page.locator("header, nav").first).to_contain_text("Tickets")
    screenshot(page, "packages-applied")


def test_the_job_page_polls_a_running_job_until_it_finishes(live_server, page):
    """A job a worker is running: the page shows its step and bar, polls, and once the job
    is done shows the outcome and stops polling (htmx status 286)."""
    from sqlalchemy import update

    from crm.extensions import db
    from crm.jobs import progress
    from crm.jobs.models import Job
    from crm.timeutil import utcnow
    from crm.uow import unit_of_work

    with live_server.app.app_context():
        ada = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        with unit_of_work():
            job = Job(
                kind="package.apply",
                payload={"name": "b2b-sales", "version": "2.0.0"},
                status="running",
                attempts=1,
                created_by=ada.id,
                created_at=utcnow(),
                started_at=utcnow(),
            )
            db.session.add(job)
            db.session.flush()
            job_id = job.id
        progress.report(job_id, 3, 7, "Entities and fields: Tickets")

    polls = []
    page.on("response", lambda r: polls.append(r.status) if "/admin/jobs/" in r.url else None)
    sign_in(page, live_server.url, "ada@example.com")
    page.goto(f"{live_server.url}/admin/jobs/{job_id}")
    status = page.locator("#job-status")
    expect(status.locator(".job-step")).to_have_text("Entities and fields: Tickets")
    expect(status).to_contain_text("Step 3 of 7")
    screenshot(page, "job-running")

    with live_server.app.app_context():
        with unit_of_work():
            db.session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status="done", finished_at=utcnow(), result={"changed": True})
            )
        progress.clear(job_id)
    expect(status.locator(".notice-success")).to_contain_text("Applied the package")
    expect(page.locator("#job-status")).to_have_attribute("data-status", "done")
    count = len(polls)
    assert 286 in polls
    page.wait_for_timeout(1500)  # a poll would have come by now: none does
    assert len(polls) == count
    screenshot(page, "job-done")
