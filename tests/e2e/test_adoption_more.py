"""In Chromium: the adoption evaluation's effect per department and the fill rate of the
fields stages require, at desktop and phone width."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from crm.timeutil import utcnow
from tests.e2e.conftest import screenshot, sign_in

pytestmark = pytest.mark.e2e
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}


def _script_moves(world, now) -> None:
    from crm.extensions import db
    from crm.pipelines.models import StageMove

    by_owner: dict = {}
    for record_id, owner_id, *_ in world.deals:
        by_owner.setdefault(owner_id, []).append(record_id)
    script = [  # (owner, days back opened, days back closed, stage)
        (world.rep, 40, 30, "won"),
        (world.rep, 38, 33, "won"),
        (world.rep2, 35, 25, "lost"),
        (world.rep, 20, 5, "won"),
        (world.rep2, 18, 6, "lost"),
        (world.boss, 16, 4, "lost"),
        (world.carer, 12, 3, "won"),
    ]
    used: dict = {}
    for owner, opened, closed, stage in script:
        record_id = by_owner[owner.id][used.setdefault(owner.id, 0)]
        used[owner.id] += 1
        for before, after, back in ((None, "new", opened), ("new", stage, closed)):
            db.session.add(
                StageMove(
                    entity_key="deal",
                    record_id=record_id,
                    pipeline="sales",
                    from_stage=before,
                    to_stage=after,
                    at=now - timedelta(days=back),
                )
            )
    db.session.commit()


def test_effect_per_department_and_stage_gates(live_server, page):
    url = live_server.url
    now = utcnow()
    with live_server.app.app_context():
        from tests.analytics.conftest import make_world

        world = make_world(now=now)
        _script_moves(world, now)

    sign_in(page, url, "admin@example.com")
    golive = (now - timedelta(days=14)).date().isoformat()
    page.goto(f"{url}/admin/adoption/?weeks=8&golive={golive}")
    departments = page.locator("table.adoption-effect-departments")
    expect(departments).to_contain_text("Sales")
    expect(departments).to_contain_text("Care")
    gates = page.locator("table.adoption-gates")
    expect(gates).to_contain_text("Close date")
    expect(page.locator("#adoption-summary")).to_contain_text("In Sales, ")
    for label, (w, h) in WIDTHS.items():
        page.set_viewport_size({"width": w, "height": h})
        expect(departments).to_be_visible()
        screenshot(page, f"adoption-more-{label}")
        page.locator("#adoption-completeness").screenshot(
            path=str(screenshot(page, f"adoption-gates-{label}")), caret="initial"
        )
        page.locator("#adoption-effect").screenshot(
            path=str(screenshot(page, f"adoption-effect-{label}")), caret="initial"
        )
