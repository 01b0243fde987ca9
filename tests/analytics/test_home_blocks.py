"""The home page's blocks: the right numbers for a rep and a manager (computed here from
the rows the test wrote), nothing outside their scope, set-up health for administrators."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest

from crm.analytics import home
from crm.metadata import specs
from tests.analytics.conftest import NOW, STAGES, add_task


def _expected(deals, owners: set[int]) -> dict[str, tuple[int, Decimal]]:
    counts, sums = Counter(), Counter()
    for _id, owner, stage, amount in deals:
        if owner in owners:
            counts[stage] += 1
            sums[stage] += amount
    return {s: (counts[s], sums[s]) for s in STAGES}


def _figures(figures):
    (f,) = figures
    return {s.key: (s.count, s.amount) for s in f.stages}


def test_rep_pipeline_is_their_own_records_by_stage(world):
    assert _figures(home.pipeline_figures(world.rep, own=True)) == _expected(
        world.deals, {world.rep.id}
    )


def test_manager_sees_their_department_and_not_care(world):
    sales = {world.rep.id, world.rep2.id, world.boss.id}
    got = _figures(
        home.pipeline_figures(world.boss, own=False, entities=home.managed_entities(world.boss))
    )
    assert got == _expected(world.deals, sales)
    assert home.managed_entities(world.rep) == [] and home.managed_entities(world.admin) == []


def test_overdue_tasks_per_person_within_the_managers_scope(world):
    by_owner = {}
    for rid, owner, *_ in world.deals:
        by_owner.setdefault(owner, []).append(rid)
    today = NOW.date()
    add_task(world.rep, by_owner[world.rep.id][0], today - timedelta(days=3), "Call back")
    add_task(world.rep, by_owner[world.rep.id][1], today - timedelta(days=1), "Send offer")
    add_task(world.rep, by_owner[world.rep.id][2], today + timedelta(days=2), "Not yet due")
    add_task(world.rep2, by_owner[world.rep2.id][0], today - timedelta(days=9), "Late")
    add_task(world.carer, by_owner[world.carer.id][0], today - timedelta(days=9), "Care's own")
    got = home.overdue_by_person(world.boss, "UTC", home.managed_entities(world.boss), at=NOW)
    assert [(o.name, o.count) for o in got] == [("Rita Rep", 2), ("Ray Rep", 1)]
    mine = home.tasks(world.rep, "UTC", at=NOW)
    assert [t.subject for t in mine.overdue] == ["Call back", "Send offer"]
    assert [t.subject for t in mine.upcoming] == ["Not yet due"]


def test_recent_records_are_only_readable_ones(world):
    got = home.recent(world.rep2, limit=50)
    mine = {rid for rid, owner, *_ in world.deals if owner == world.rep2.id}
    assert {r.id for r in got} == mine


def test_health_names_empty_lists_unfilled_fields_and_never_signed_in(world):
    h = home.health()
    assert [s.key for s in h.empty_entities] == ["memo"]
    assert ("deal", "close_date") in {(s.key, f.key) for s, f in h.unfilled}
    assert ("deal", "amount") not in {(s.key, f.key) for s, f in h.unfilled}
    assert {u.email for u in h.never_signed_in} >= {"rep@example.com", "carer@example.com"}


def test_home_page_paints_blocks_lazily_per_person(world, login_as):
    rep_home = login_as(world.rep).get("/").text
    names = re.findall(r'hx-get="/home/block/(\w+)" hx-trigger="load"', rep_home)
    assert names == ["tasks", "pipeline", "recent", "pool", "notifications"]
    assert "appear here as soon as they are configured" not in rep_home
    boss_home = login_as(world.boss).get("/").text
    assert "/home/block/team" in boss_home and "/home/block/health" not in boss_home
    admin_home = login_as(world.admin).get("/").text
    assert "/home/block/health" in admin_home and "/home/block/team" not in admin_home


def test_blocks_render_as_fragments_and_refuse_what_is_not_theirs(world, login_as):
    client = login_as(world.rep)
    for name in ("tasks", "pipeline", "recent", "pool", "notifications"):
        r = client.hx_get(f"/home/block/{name}")
        assert r.status_code == 200 and "<html" not in r.text, name
        assert "HX-Request" in r.headers.get("Vary", "")
    pipeline = client.hx_get("/home/block/pipeline").text
    open_n = sum(
        1 for _i, o, s, _a in world.deals if o == world.rep.id and s not in ("won", "lost")
    )
    assert f"{open_n} open" in pipeline
    for name in ("team", "health", "nope"):
        assert client.hx_get(f"/home/block/{name}").status_code == 404
    team = login_as(world.boss).hx_get("/home/block/team").text
    assert "My department" in team and "Cal Care" not in team
    health = login_as(world.admin).hx_get("/home/block/health").text
    assert "Memos" in health and "Close date" in health
    assert login_as(world.admin).get("/home/block/health").status_code == 200  # a page too


@pytest.mark.parametrize("who", ["rep", "boss"])
def test_block_numbers_never_include_other_departments(world, who):
    user = getattr(world, who)
    figures = home.pipeline_figures(user, own=False)
    total = sum(s.count for f in figures for s in f.stages)
    carer_deals = sum(1 for _i, o, *_ in world.deals if o == world.carer.id)
    assert total <= len(world.deals) - carer_deals
    assert specs.current().entity("deal") is not None
