"""Probes of pipeline analytics, the forecast, targets and dashboards (crm/analytics). The
pipeline and forecast pages answer whoever may read the entity (the figures, scanned for
leaks like every answer; 404 without a pipeline; 400 for a forecast without an amount or
close date they read) and 403 to the others; targets are for managers (read at department level or
wider) only; dashboards are their owner's (another's is a 404) and a role's only for
those who may configure. Nothing a refused request sends is stored. The figures
themselves, per scope, are tested in tests/analytics."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from crm.analytics.models import Dashboard, Target, Tile
from crm.extensions import db
from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.harness import Run


def _count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _clean() -> None:
    db.session.rollback()
    db.session.execute(delete(Tile))
    db.session.execute(delete(Dashboard))
    db.session.execute(delete(Target))
    db.session.commit()


def _status_case(run: Run, route: str, entity: str, allowed: bool, status: int, ok=(200,)):
    if status >= 500:
        observed = None
    elif allowed:
        observed = True if status in ok else None
    else:
        observed = False if status in (403, 404) else None
    run.case(route, entity, "-", allowed, observed, f"(HTTP {status})")


def probe_analytics(run: Run) -> None:
    a = run.actor
    r = run.get("/analytics/")
    _status_case(run, "analytics.index", "-", True, r.status_code, ok=(200, 302))
    for entity in d.ENTITY_ORDER:
        reads = oracle.level(a, entity, "read") > d.NONE
        for route, path in (
            ("analytics.pipeline_page", "pipeline"),
            ("analytics.forecast_page", "forecast"),
        ):
            status = run.get(f"/analytics/{entity}/{path}").status_code
            # readers: the figures (the page is scanned for leaks), or no pipeline (404),
            # or a forecast without an amount or close date they read (400); others: 403
            if status >= 500:
                observed = None
            elif reads:
                observed = True if status in (200, 400, 404) else None
            else:
                observed = False if status == 403 else None
            run.case(route, entity, "-", reads, observed, f"(HTTP {status})")
        manages = reads and oracle.level(a, entity, "read") >= d.DEPT
        status = run.get(f"/analytics/{entity}/targets?month=2026-11").status_code
        _status_case(run, "analytics.targets_page", entity, manages, status)
        before = _count(Target)
        status = run.post(f"/analytics/{entity}/targets", {"month": "2026-11"}).status_code
        _status_case(run, "analytics.targets_page[save]", entity, manages, status, ok=(303,))
        # a target for someone outside everyone's reach but the admin's: refused
        spare = run.world.ids["support"]
        status = run.post(
            f"/analytics/{entity}/targets", {"month": "2026-11", f"target-{spare}": "5"}
        ).status_code
        reaches = oracle.is_admin(a) or oracle.level(a, entity, "read") == d.ALL
        written = _count(Target) != before
        observed = None if status >= 500 else (status == 303 and written)
        if not reaches and (status not in (403,) or written):
            observed = None
        run.case("analytics.targets_page[outside reach]", entity, "-", reaches, observed,
                 f"(HTTP {status})")  # fmt: skip
        _clean()

    # dashboards: one's own works end to end; another's is not found and stays as it was
    status = run.get("/analytics/dashboards/").status_code
    _status_case(run, "analytics.dashboard_list", "-", True, status)
    status = run.post("/analytics/dashboards/", {"name": "Probe"}).status_code
    _status_case(run, "analytics.dashboard_list[create]", "-", True, status, ok=(303,))
    db.session.rollback()
    mine = db.session.scalar(select(Dashboard.id).where(Dashboard.user_id == run.world.ids[a]))
    readable = next((e for e in d.ENTITY_ORDER if oracle.level(a, e, "read") > d.NONE), None)
    if mine is not None and readable is not None:
        url = f"/analytics/dashboards/{mine}"
        _status_case(run, "analytics.dashboard_page", "-", True, run.get(url).status_code)
        status = run.post(url + "/tiles", {"kind": "created", "entity": readable}).status_code
        _status_case(run, "analytics.tile_add", readable, True, status, ok=(303,))
        db.session.rollback()
        tile = db.session.scalar(select(Tile.id).where(Tile.dashboard_id == mine))
        status = run.get(f"/analytics/tiles/{tile}", hx=True).status_code
        _status_case(run, "analytics.tile_body", readable, True, status)
        status = run.post(url + "/order", {"tile": [str(tile)]}, hx=True).status_code
        _status_case(run, "analytics.tile_order", "-", True, status)
        status = run.post(f"{url}/tiles/{tile}/delete").status_code
        _status_case(run, "analytics.tile_delete", "-", True, status, ok=(303,))
    _clean()
    other = Dashboard(name="Theirs", user_id=run.world.ids["colleague"])
    db.session.add(other)
    db.session.flush()
    db.session.add(Tile(dashboard_id=other.id, kind="created", config={"entity": "account"}))
    db.session.commit()
    url = f"/analytics/dashboards/{other.id}"
    tile = db.session.scalar(select(Tile.id).where(Tile.dashboard_id == other.id))
    before = (_count(Tile), _count(Dashboard))
    checks = (
        ("analytics.dashboard_page[another's]", run.get(url).status_code),
        ("analytics.tile_body[another's]",
         run.get(f"/analytics/tiles/{tile}", hx=True).status_code),
        ("analytics.tile_add[another's]",
         run.post(url + "/tiles", {"kind": "created", "entity": "account"}).status_code),
        ("analytics.tile_order[another's]",
         run.post(url + "/order", {"tile": [str(tile)]}, hx=True).status_code),
        ("analytics.tile_delete[another's]", run.post(f"{url}/tiles/{tile}/delete").status_code),
    )  # fmt: skip
    untouched = (_count(Tile), _count(Dashboard)) == before
    for route, status in checks:
        observed = False if status == 404 and untouched else None
        run.case(route, "-", "another's", False, observed, f"(HTTP {status})")
    # a role's dashboard: only who may configure
    role = run.world.role_ids["clerk"]
    status = run.post("/analytics/dashboards/", {"name": "Team", "role": str(role)}).status_code
    _status_case(run, "analytics.dashboard_list[for a role]", "-", oracle.may_configure(a), status,
                 ok=(303,))  # fmt: skip
    _clean()
