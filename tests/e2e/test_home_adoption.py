"""In Chromium: the home page of a rep, a manager and an administrator (each block loads
on its own), and the adoption evaluation, at desktop and phone width."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from crm.timeutil import utcnow
from tests.e2e.conftest import screenshot, sign_in

pytestmark = pytest.mark.e2e
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}


def _script_usage(world, now):
    from crm.activities.models import Activity, Task
    from crm.analytics import usage
    from crm.extensions import db
    from crm.notifications.models import Notification

    today = now.date()
    deals = [d[0] for d in world.deals]
    for back in range(1, 50):
        day = today - timedelta(days=back)
        if day.weekday() < 5:
            db.session.execute(usage.upsert(world.rep.id, day, "deal", "list"))
            if back % 3 == 0:
                db.session.execute(usage.upsert(world.rep2.id, day, "deal", "open"))
            if back % 7 == 1:
                db.session.execute(
                    usage.upsert(world.boss.id, day, "deal", "board", "pipeline:sales")
                )
            db.session.add(
                Activity(
                    entity_key="deal",
                    record_id=deals[back % 10],
                    kind="call",
                    subject="Call",
                    happened_at=now - timedelta(days=back),
                    user_id=world.rep.id,
                )
            )
    for i, (subject, days) in enumerate(
        (
            ("Call back about the lease", -3),
            ("Send the offer", -1),
            ("Prepare the demo", 0),
            ("Quarterly review", 4),
        )
    ):
        db.session.add(
            Task(
                entity_key="deal",
                record_id=deals[i * 5],
                subject=subject,
                due_date=today + timedelta(days=days),
                assignee_id=world.rep.id,
            )
        )
    db.session.add(
        Task(
            entity_key="deal",
            record_id=deals[2],
            subject="Chase invoice",
            due_date=today - timedelta(days=6),
            assignee_id=world.rep2.id,
        )
    )
    db.session.add(
        Notification(
            user_id=world.rep.id,
            kind="assigned",
            entity_key="deal",
            record_id=deals[0],
            title="Bea Boss assigned you Deal 0",
        )
    )
    db.session.commit()  # fmt: skip


def _shoot(page, name: str, ready) -> None:
    for label, (w, h) in WIDTHS.items():
        page.set_viewport_size({"width": w, "height": h})
        expect(ready).to_be_visible()
        screenshot(page, f"{name}-{label}")


def _home_loaded(page, *blocks: str):
    for name in blocks:
        expect(page.locator(f"#home-{name} h2")).to_be_visible()


def test_home_pages_and_adoption_evaluation(live_server, page):
    url = live_server.url
    now = utcnow()
    with live_server.app.app_context():
        from tests.analytics.conftest import make_world

        world = make_world(now=now)
        _script_usage(world, now)

    sign_in(page, url, "rep@example.com")
    _home_loaded(page, "tasks", "pipeline", "recent", "pool", "notifications")
    expect(page.locator("#home-tasks")).to_contain_text("Call back about the lease")
    expect(page.locator("#home-notifications")).to_contain_text("Bea Boss assigned you Deal 0")
    expect(page.locator("#home-team")).to_have_count(0)
    _shoot(page, "home-rep", page.locator("#home-pipeline table"))

    page.context.clear_cookies()
    sign_in(page, url, "boss@example.com")
    _home_loaded(page, "tasks", "pipeline", "team")
    team = page.locator("#home-team")
    expect(team).to_contain_text("Rita Rep")
    expect(team).not_to_contain_text("Cal Care")
    _shoot(page, "home-manager", team.locator("table").first)

    page.context.clear_cookies()
    sign_in(page, url, "admin@example.com")
    _home_loaded(page, "health")
    expect(page.locator("#home-health")).to_contain_text("Memos")
    _shoot(page, "home-admin", page.locator("#home-health dl"))

    page.set_viewport_size({"width": 1280, "height": 800})
    page.locator("#home-health").get_by_role("link", name="Open the adoption evaluation").click()
    page.wait_for_url("**/admin/adoption/")
    expect(page.locator("#adoption-summary li").first).to_be_visible()
    expect(page.locator("#adoption-completeness")).to_contain_text("Close date")
    _shoot(page, "adoption", page.locator("#adoption-frequency table"))
