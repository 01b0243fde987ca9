"""The analytics pages through the app: the pipeline and forecast pages, targets (only for
people in the manager's reach, range-checked), dashboards (tiles load on their own, the
order is saved, another person's dashboard is not found) and bad input (a message, never
a 500)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from crm.analytics.models import Dashboard, Target, Tile
from crm.extensions import db
from tests.pipeline_analytics.conftest import PERIOD

QS = "?from={from}&to={to}".format(**PERIOD)


def test_pipeline_and_forecast_pages(world, login_as):
    client = login_as(world["max"])
    r = client.get("/analytics/deal/pipeline" + QS)
    assert r.status_code == 200, r.text
    html = r.text
    assert "Conversion from stage to stage" in html and "<svg" in html and "<table" in html
    assert "Wes" not in html  # West is outside Max's reach
    r = client.get("/analytics/deal/forecast" + QS)
    assert r.status_code == 200
    assert "Set targets" in r.text
    # the rep: no targets button, and only their own name
    r = login_as(world["ann"]).get("/analytics/deal/forecast" + QS)
    assert r.status_code == 200 and "Set targets" not in r.text and "Bob" not in r.text


def test_index_and_nav(world, login_as):
    client = login_as(world["ann"])
    r = client.get("/analytics/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/analytics/deal/pipeline")
    assert 'href="/analytics/"' in client.get("/").text


def test_bad_period_and_filters(world, login_as):
    client = login_as(world["admin"])
    for qs in (
        "?from=0001-01-01&to=9999-12-31",
        "?from=2000-01-01&to=2199-12-31",
        "?from=2026-12-01&to=2026-01-01",
        "?from=yesterday&to=today",
        "?from=2026-01-01",
        "?period=forever",
        "?owner=-1",
        "?owner=99999999999999999999",
        "?department=abc",
        "?stale_days=0",
        "?stale_days=1000000",
    ):
        r = client.get("/analytics/deal/pipeline" + qs)
        assert r.status_code == 400, (qs, r.status_code)
        assert "Something went wrong" not in r.text
    r = client.get("/analytics/deal/forecast?from=0001-01-01&to=9999-12-31")
    assert r.status_code == 400 and ("ten years" in r.text or "between" in r.text)
    assert client.get("/analytics/deal/pipeline?department=999999").status_code == 404
    assert client.get("/analytics/nosuch/pipeline").status_code == 404


def test_targets_only_for_people_in_reach(world, login_as):
    max_ = login_as(world["max"])
    page = max_.get("/analytics/deal/targets?month=2026-11")
    assert page.status_code == 200
    assert "Ann" in page.text and "Bob" in page.text and "Wes" not in page.text
    ann, wes = world["ann"].id, world["wes"].id
    r = max_.submit(
        "/analytics/deal/targets",
        {"month": "2026-11", f"target-{ann}": "1500", f"target-{world['bob'].id}": ""},
    )
    assert r.status_code == 303
    rows = db.session.execute(select(Target.user_id, Target.amount)).all()
    assert rows == [(ann, Decimal("1500.00"))]
    # someone outside his department: refused, nothing written
    r = max_.submit("/analytics/deal/targets", {"month": "2026-11", f"target-{wes}": "10"})
    assert r.status_code == 403
    assert db.session.scalar(select(Target).where(Target.user_id == wes)) is None
    # a rep sets no targets at all
    assert login_as(world["ann"]).get("/analytics/deal/targets").status_code == 403
    r = login_as(world["ann"]).submit(
        "/analytics/deal/targets", {"month": "2026-11", f"target-{ann}": "99"}
    )
    assert r.status_code == 403
    # the forecast shows the target against what was won
    r = max_.get("/analytics/deal/forecast?from=2026-11-01&to=2026-11-30")
    assert "1,500" in r.text


def test_targets_bad_amounts(world, login_as):
    max_ = login_as(world["max"])
    ann, bob = world["ann"].id, world["bob"].id
    for bad in ("-5", "1e400", "10000000000000", "12.345", "abc", "NaN", "Infinity"):
        r = max_.submit(
            "/analytics/deal/targets",
            {"month": "2026-11", f"target-{ann}": bad, f"target-{bob}": "100"},
        )
        assert r.status_code == 422, bad
        assert "Nothing was saved" in r.text
        assert db.session.scalar(select(Target)) is None  # bob's good amount neither
    for month in ("20261", "0000-01", "2026-13", "99999-01"):
        r = max_.submit("/analytics/deal/targets", {"month": month, f"target-{ann}": "1"})
        assert r.status_code == 400, month


def test_dashboards(world, login_as):
    ann = login_as(world["ann"])
    r = ann.submit("/analytics/dashboards/", {"name": "Mine"})
    assert r.status_code == 303
    board = db.session.scalar(select(Dashboard))
    url = f"/analytics/dashboards/{board.id}"
    for kind in ("created", "won", "conversion", "forecast", "time_in_stage", "win_rate"):
        assert ann.submit(url + "/tiles", {"kind": kind, "entity": "deal"}).status_code == 303
    tiles = list(db.session.scalars(select(Tile).order_by(Tile.position)))
    assert len(tiles) == 6
    page = ann.get(url)
    assert page.status_code == 200
    assert page.text.count('hx-trigger="load"') == 6
    for t in tiles:
        r = ann.hx_get(f"/analytics/tiles/{t.id}" + QS)
        assert r.status_code == 200, (t.kind, r.text)
        assert "<html" not in r.text and "HX-Request" in r.headers.get("Vary", "")
    # the won tile for Ann counts her deal only (1,000), not Wes's 3,000
    won = next(t for t in tiles if t.kind == "won")
    assert "1,000" in ann.hx_get(f"/analytics/tiles/{won.id}" + QS).text
    # drag and drop: the new order is saved
    order = [t.id for t in reversed(tiles)]
    r = ann.hx_post(url + "/order", {"tile": [str(i) for i in order]})
    assert r.status_code == 200
    db.session.expire_all()
    saved = [t.id for t in db.session.scalars(select(Tile).order_by(Tile.position))]
    assert saved == order
    # an order that is not every tile once: refused, nothing moves
    r = ann.hx_post(url + "/order", {"tile": [str(order[0])]})
    assert r.status_code == 400
    db.session.expire_all()
    assert [t.id for t in db.session.scalars(select(Tile).order_by(Tile.position))] == order
    # bad tiles
    assert ann.submit(url + "/tiles", {"kind": "nope", "entity": "deal"}).status_code == 400
    assert ann.submit(url + "/tiles", {"kind": "won", "entity": "nope"}).status_code == 400
    assert ann.submit("/analytics/dashboards/", {"name": ""}).status_code == 400
    assert ann.submit("/analytics/dashboards/", {"name": "x" * 500}).status_code == 400
    # another person neither sees nor changes it
    bob = login_as(world["bob"])
    assert bob.get(url).status_code == 404
    assert bob.hx_get(f"/analytics/tiles/{tiles[0].id}").status_code == 404
    assert bob.submit(url + "/tiles", {"kind": "won", "entity": "deal"}).status_code == 404
    assert bob.hx_post(url + "/order", {"tile": [str(i) for i in order]}).status_code == 404
    # a rep cannot make a role's dashboard
    assert ann.submit("/analytics/dashboards/", {"name": "Team", "role": "1"}).status_code == 403


def test_role_dashboard_shows_each_viewer_their_numbers(world, login_as):
    from crm.access.models import Role

    rep = db.session.scalar(select(Role).where(Role.name == "Rep"))
    admin = login_as(world["admin"])
    r = admin.submit("/analytics/dashboards/", {"name": "Reps", "role": str(rep.id)})
    assert r.status_code == 303
    board = db.session.scalar(select(Dashboard))
    admin.submit(f"/analytics/dashboards/{board.id}/tiles", {"kind": "won", "entity": "deal"})
    tile = db.session.scalar(select(Tile))
    wes = login_as(world["wes"])
    assert "3,000" in wes.hx_get(f"/analytics/tiles/{tile.id}" + QS).text
    ann = login_as(world["ann"])
    body = ann.hx_get(f"/analytics/tiles/{tile.id}" + QS).text
    assert "1,000" in body and "3,000" not in body
    # reps see the role's dashboard but may not change it
    assert ann.get(f"/analytics/dashboards/{board.id}").status_code == 200
    r = ann.hx_post(f"/analytics/dashboards/{board.id}/order", {"tile": [str(tile.id)]})
    assert r.status_code == 403


def test_hidden_amount_or_close_date_stops_the_forecast(world, login_as):
    from tests.factories import make_role, make_user

    make_role("NoAmount", {"read": 4}, fields={("deal", "amount"): "hidden"}, entity="deal")
    make_role("NoClose", {"read": 4}, fields={("deal", "close_date"): "hidden"}, entity="deal")
    for role, words in (("NoAmount", "no amount"), ("NoClose", "no expected close")):
        user = make_user(f"{role.lower()}@example.com", roles=(role,))
        client = login_as(user)
        r = client.get("/analytics/deal/forecast" + QS)
        assert r.status_code == 400 and words in r.text
        # the pipeline page still works and shows no sums
        assert client.get("/analytics/deal/pipeline" + QS).status_code == 200


def test_close_field_is_a_pipeline_setting(world):
    from crm.analytics.forecast import close_field
    from crm.errors import ValidationFailed
    from crm.metadata import specs
    from crm.pipelines import service as pipelines
    from tests.pipelines.factories import stages

    spec = specs.current().entity("deal")
    assert close_field(spec, pipelines.pipelines_of("deal").default).key == "close_date"
    try:
        pipelines.save_pipeline(
            "deal", "sales", "Sales", stages(), options={"close_field": "title"}
        )
    except ValidationFailed as exc:
        assert "close_field" in exc.errors
    else:  # pragma: no cover
        raise AssertionError("a text field was accepted as the close date")
