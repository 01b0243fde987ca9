"""Saved reports on dashboards (the "report" tile): a shared report shows each viewer
their own numbers (and its cells drill down to exactly their records); a report the
viewer may not open says so in the tile; deleting the report removes its tiles; "Add to
dashboard" from the report's page; reports counted in usage (the adoption depth)."""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from crm.access.models import Role
from crm.analytics import adoption
from crm.analytics.models import Dashboard, Tile, UsageDay
from crm.extensions import db
from crm.timeutil import utcnow
from tests.reports.conftest import in_scope
from tests.reports.test_views import listed


def _save(client, name: str, roles=(), **args) -> int:
    data = {"entity": "deal", "name": name, "csrf_token": client.csrf_token(), **args}
    data["role"] = [str(r) for r in roles]
    r = client.post("/reports/save", data=data)
    assert r.status_code == 303, r.data
    return int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def _role(name: str) -> int:
    return db.session.scalar(select(Role.id).where(Role.name == name))


def _dashboard(client, name: str, role: int | None = None) -> int:
    data = {"name": name}
    if role:
        data["role"] = str(role)
    assert client.submit("/analytics/dashboards/", data).status_code == 303
    return db.session.scalar(select(func.max(Dashboard.id)))


def test_a_shared_report_tile_shows_each_viewer_their_own_numbers(login_as, sales, admin):
    mia, ann = sales["p"]["mia"], sales["p"]["ann"]
    rep = _role("Rep")
    report_id = _save(
        login_as(mia), "Pipeline by status", [rep], g1="status", m=["count:", "sum:amount"]
    )
    # the administrator's add-tile form offers their own reports, not one not shared with them
    boss = login_as(admin)
    board = _dashboard(boss, "Reps", rep)
    own = _save(boss, "Admin's own", g1="hot")
    page = boss.get(f"/analytics/dashboards/{board}").text
    assert f'<option value="{own}">' in page and "Pipeline by status" not in page
    r = boss.submit(f"/analytics/dashboards/{board}/tiles", {"kind": "report", "report": report_id})
    assert r.status_code == 400 and "Choose one of the reports offered" in r.text
    # Mia's own dashboard: the form offers her report, and the tile shows her numbers
    c = login_as(mia)
    mine = _dashboard(c, "Mine")
    page = c.get(f"/analytics/dashboards/{mine}").text
    assert f'<option value="{report_id}">Pipeline by status</option>' in page
    r = c.submit(f"/analytics/dashboards/{mine}/tiles", {"kind": "report", "report": report_id})
    assert r.status_code == 303
    tile = db.session.scalar(select(Tile).where(Tile.kind == "report"))
    assert tile.config == {"report_id": report_id}
    assert 'hx-get="/analytics/tiles/' in c.get(f"/analytics/dashboards/{mine}").text
    body = c.hx_get(f"/analytics/tiles/{tile.id}").text
    total_mia = sum((x["amount"] for x in in_scope(sales, "mia")), Decimal(0))
    assert f"{total_mia:,.2f}" in body and "<svg" in body and "<table" in body
    assert "style=" not in body
    # the same report on the reps' role dashboard, seen by Ann: her numbers only
    db.session.add(Tile(dashboard_id=board, kind="report", config={"report_id": report_id},
                        position=0))  # fmt: skip
    db.session.commit()
    rep_tile = db.session.scalar(select(Tile).where(Tile.dashboard_id == board))
    them = login_as(ann)
    body = them.hx_get(f"/analytics/tiles/{rep_tile.id}").text
    expected = sum((x["amount"] for x in in_scope(sales, "ann")), Decimal(0))
    assert f"{expected:,.2f}" in body and f"{total_mia:,.2f}" not in body
    # each count links to a list holding exactly its records (Ann's)
    links = re.findall(r'<a href="(/r/deal/\?[^"]+)">([0-9,]+)</a>', body)
    counts = Counter(x["status"] for x in in_scope(sales, "ann"))
    assert {int(n) for _h, n in links} >= set(counts.values()) | {len(in_scope(sales, "ann"))}
    for href, n in links:
        assert len(listed(them, html.unescape(href))) == int(n.replace(",", ""))


def test_a_report_the_viewer_may_not_open_says_so(login_as, sales):
    mia, ann, vic = sales["p"]["mia"], sales["p"]["ann"], sales["p"]["vic"]
    rep = _role("Rep")
    private = _save(login_as(mia), "Private", g1="status")
    costs = _save(login_as(mia), "Costs", [rep], g1="status", m="sum:cost")
    board = Dashboard(name="Reps", role_id=rep, created_by=mia.id)
    db.session.add(board)
    db.session.flush()
    for n, rid in enumerate((private, costs)):
        db.session.add(Tile(dashboard_id=board.id, kind="report", config={"report_id": rid},
                            position=n))  # fmt: skip
    db.session.commit()
    t_private, t_costs = db.session.scalars(select(Tile).order_by(Tile.position)).all()
    c = login_as(ann)
    body = c.hx_get(f"/analytics/tiles/{t_private.id}").text
    assert "not shared with you" in body and "<table" not in body
    body = c.hx_get(f"/analytics/tiles/{t_costs.id}").text
    assert "Costs cannot be shown to you" in body and "<table" not in body
    # the dashboard's page does not name a report one may not open
    assert "Private" not in c.get(f"/analytics/dashboards/{board.id}").text
    # someone outside the role: no dashboard, no tile
    assert login_as(vic).hx_get(f"/analytics/tiles/{t_costs.id}").status_code == 404


def test_deleting_the_report_removes_its_tiles(login_as, sales):
    mia = sales["p"]["mia"]
    c = login_as(mia)
    report_id = _save(c, "Soon gone", g1="status")
    other = _save(c, "Stays", g1="hot")
    board = _dashboard(c, "Mine")
    for rid in (report_id, other):
        r = c.post(
            f"/reports/{rid}/dashboard", data={"dashboard": board, "csrf_token": c.csrf_token()}
        )
        assert r.status_code == 303 and r.headers["Location"].endswith(
            f"/analytics/dashboards/{board}"
        )
    assert db.session.scalar(select(func.count()).select_from(Tile)) == 2
    r = c.post(f"/reports/{report_id}/delete", data={"csrf_token": c.csrf_token()})
    assert r.status_code == 303
    db.session.expire_all()
    left = db.session.scalars(select(Tile)).all()
    assert [t.config for t in left] == [{"report_id": other}]
    # a tile whose report is gone anyway (written by hand): a message, not a 500
    db.session.add(Tile(dashboard_id=board, kind="report", config={"report_id": report_id},
                        position=5))  # fmt: skip
    db.session.add(Tile(dashboard_id=board, kind="report", config={"report_id": "x"}, position=6))
    db.session.commit()
    for t in db.session.scalars(select(Tile).where(Tile.position >= 5)):
        r = c.hx_get(f"/analytics/tiles/{t.id}")
        assert r.status_code == 200 and "was deleted or is not shared" in r.text


def test_add_to_dashboard_bad_input_and_rights(login_as, sales, admin):
    mia, ann = sales["p"]["mia"], sales["p"]["ann"]
    rep = _role("Rep")
    c = login_as(mia)
    report_id = _save(c, "Shared", [rep], g1="status")
    mine = _dashboard(c, "Mine")
    page = c.get(f"/reports/{report_id}").text
    assert "Add to dashboard" in page and f'<option value="{mine}">Mine</option>' in page
    them = login_as(ann)
    theirs = _dashboard(them, "Ann's")
    token = them.csrf_token()
    # onto someone else's dashboard, or one that does not exist: not found
    for bad in (mine, "", "abc", "-1", "99999999999", "0"):
        r = them.post(f"/reports/{report_id}/dashboard", data={"dashboard": bad,
                                                               "csrf_token": token})  # fmt: skip
        assert r.status_code == 404, bad
    # a report one may not open: not found
    private = _save(c, "Private", g1="status")
    r = them.post(f"/reports/{private}/dashboard", data={"dashboard": theirs, "csrf_token": token})
    assert r.status_code == 404
    # a role's dashboard one may see but not change: refused
    boss = login_as(admin)
    role_board = _dashboard(boss, "Team", rep)
    r = them.post(f"/reports/{report_id}/dashboard",
                  data={"dashboard": role_board, "csrf_token": token})  # fmt: skip
    assert r.status_code == 403
    # without the CSRF token: refused
    r = them.post(f"/reports/{report_id}/dashboard", data={"dashboard": theirs})
    assert r.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Tile)) == 0
    # the shared report onto one's own dashboard
    r = them.post(f"/reports/{report_id}/dashboard", data={"dashboard": theirs,
                                                           "csrf_token": token})  # fmt: skip
    assert r.status_code == 303
    # bad report choices in the add-tile form
    for bad in ("", "x", "0", "99999999999", str(private)):
        r = them.submit(f"/analytics/dashboards/{theirs}/tiles", {"kind": "report", "report": bad})
        assert r.status_code == 400, bad


def test_reports_are_counted_in_usage_and_depth(login_as, sales, admin, app):
    mia = sales["p"]["mia"]
    c = login_as(mia)
    report_id = _save(c, "Used", [_role("Manager")], g1="status")
    unused = _save(c, "Unused", [_role("Manager")], g1="hot")
    assert c.get(f"/reports/{report_id}").status_code == 200
    assert c.get(f"/reports/{report_id}", headers={"HX-Request": "true"}).status_code == 200
    board = _dashboard(c, "Mine")
    c.post(f"/reports/{report_id}/dashboard", data={"dashboard": board,
                                                    "csrf_token": c.csrf_token()})  # fmt: skip
    tile = db.session.scalar(select(Tile))
    assert c.hx_get(f"/analytics/tiles/{tile.id}").status_code == 200
    rows = db.session.execute(
        select(UsageDay.kind, UsageDay.detail, UsageDay.count).where(UsageDay.kind == "report")
    ).all()
    assert sum(n for _k, d, n in rows if d == f"report:{report_id}") == 2  # page + tile
    today = utcnow().date()
    period = adoption.Period(today - timedelta(days=today.weekday()), 1)
    used = {u.name: u.uses for u in adoption.depth(admin, period) if u.kind == "report"}
    assert used["Used"] == 2 and used["Unused"] == 0
    assert unused
