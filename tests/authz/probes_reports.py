"""Reports (issue 19): the builder and its exports count and sum only the records the
actor may read, refuse an entity they may not read (404) and a field they may not read
(400: it can be neither measured, grouped nor filtered)."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from sqlalchemy import delete, func, select

from crm.analytics.models import Dashboard, Tile
from crm.extensions import db
from crm.reports.models import ReportShare, SavedReport
from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.harness import Run


def probe_reports(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "read")
    query = urlencode([("entity", entity), ("m", "count:"), ("m", "sum:amount")])
    counted = urlencode([("entity", entity), ("g1", "owner_id"), ("m", "count:")])
    page = run.get(f"/reports/new?{counted}", hx=True)
    run.read_case("reports.builder", entity, "entity", allowed, page)
    r = run.get(f"/reports/export.csv?{query}")
    amount_seen = oracle.field_access(run.actor, entity, "amount") != d.HIDDEN
    if not allowed:
        run.read_case("reports.export_csv", entity, "entity", False, r)
        x = run.get(f"/reports/export.xlsx?{query}")
        run.read_case("reports.export_xlsx", entity, "entity", False, x)
        return
    if not amount_seen:
        run.case("reports.export_csv[hidden]", entity, "amount", False, r.status_code != 400)
        return
    run.read_case("reports.export_csv", entity, "entity", True, r)
    x = run.get(f"/reports/export.xlsx?{query}")
    run.read_case("reports.export_xlsx", entity, "entity", True, x)
    if r.status_code != 200:
        return
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    n, total = int(rows[-1][0]), int(rows[-1][1] or 0)
    seen = [x for x in run.world.live(entity) if oracle.may(run.actor, "read", x.rec)]
    want_n, want_total = len(seen), sum(x.amount or 0 for x in seen)
    run.case("reports.export_csv[n]", entity, "entity", True, (n, total) == (want_n, want_total),
             f"(got {n}, {total}; expected {want_n}, {want_total})")  # fmt: skip
    if oracle.field_access(run.actor, entity, "secret") == d.HIDDEN:
        f = run.get(f"/reports/new?{counted}&f.secret.contains=a", hx=True)
        run.case("reports.builder[hidden filter]", entity, "secret", False, f.status_code != 400)


PROBE_NAME = "authz probe report"


def _stored() -> dict[int, int | None]:
    """{report id: owner id} of every saved report."""
    db.session.rollback()
    rows = dict(db.session.execute(select(SavedReport.id, SavedReport.owner_id)).all())
    db.session.rollback()
    return rows


BOARD_NAME = "authz probe board"


def _boards(owners: dict[str, int]) -> dict[str, int]:
    """A personal dashboard of each of ``owners`` (name -> user id), by name."""
    out = {}
    for who, user_id in owners.items():
        board = Dashboard(name=BOARD_NAME, user_id=user_id, created_by=user_id)
        db.session.add(board)
        db.session.flush()
        out[who] = board.id
    db.session.commit()
    return out


def _tiles() -> int:
    return db.session.scalar(select(func.count()).select_from(Tile).where(Tile.kind == "report"))


def _clear() -> None:
    db.session.rollback()
    boards = select(Dashboard.id).where(Dashboard.name == BOARD_NAME)
    db.session.execute(delete(Tile).where(Tile.dashboard_id.in_(boards)))
    db.session.execute(delete(Dashboard).where(Dashboard.name == BOARD_NAME))
    db.session.execute(delete(ReportShare))
    db.session.execute(delete(SavedReport))
    db.session.commit()


def probe_saved_reports(run: Run) -> None:
    """Saved reports: the list shows one's own (and those shared with one's roles), another's
    private report is a 404 to open or delete (nothing changed); one saves and deletes one's
    own, on an entity one may read (another entity: a 404, nothing stored)."""
    a, w = run.actor, run.world
    other = next(x for x in d.ACTORS if x != a)
    _clear()
    theirs = SavedReport(name=PROBE_NAME, translations={}, entity_key="account",
                         definition={"entity": "account"}, owner_id=w.ids[other])  # fmt: skip
    db.session.add(theirs)
    db.session.commit()
    theirs_id = theirs.id
    r = run.get("/reports/")
    if run.read_case("reports.report_list", "-", "-", True, r):
        run.case("reports.report_list[own only]", "-", "another's", False,
                 PROBE_NAME in r.data.decode())  # fmt: skip
    status = run.get(f"/reports/{theirs_id}").status_code
    run.case("reports.open_report", "-", "another's", False,
             False if status == 404 else None, f"(HTTP {status})")  # fmt: skip
    before = _stored()
    status = run.post(f"/reports/{theirs_id}/delete").status_code
    unchanged = status == 404 and _stored() == before
    run.case("reports.delete_report", "-", "another's", False,
             False if unchanged else None, f"(HTTP {status})")  # fmt: skip
    boards = _boards({"mine": w.ids[a], "theirs": w.ids[other]})
    status = run.post(f"/reports/{theirs_id}/dashboard", {"dashboard": str(boards["mine"])})
    unchanged = status.status_code == 404 and _tiles() == 0
    run.case("reports.add_to_dashboard", "-", "another's", False,
             False if unchanged else None, f"(HTTP {status.status_code})")  # fmt: skip
    before = _stored()
    status = run.post("/reports/save", {"entity": "account", "m": "count:", "name": "Mine",
                                        "report_id": str(theirs_id)}).status_code  # fmt: skip
    unchanged = status in (400, 404) and _stored() == before
    run.case("reports.save_report", "-", "another's", False,
             False if unchanged else None, f"(HTTP {status})")  # fmt: skip
    readable = [e for e in d.ENTITY_ORDER if oracle.may_entity(a, e, "read")]
    entity = readable[0] if readable else "account"
    before = _stored()
    status = run.post(
        "/reports/save", {"entity": entity, "m": "count:", "name": "Mine"}
    ).status_code
    after = _stored()
    mine = [rid for rid, owner in after.items() if owner == w.ids[a]]
    if not readable:
        unchanged = status in (400, 404) and after == before
        run.case("reports.save_report", entity, "own", False,
                 False if unchanged else None, f"(HTTP {status})")  # fmt: skip
        _clear()
        return
    run.case("reports.save_report", entity, "own", True, status == 303 and len(mine) == 1,
             f"(HTTP {status})")  # fmt: skip
    if mine:
        run.read_case("reports.open_report", entity, "own", True, run.get(f"/reports/{mine[0]}"))
        r = run.post(f"/reports/{mine[0]}/dashboard", {"dashboard": str(boards["theirs"])})
        unchanged = r.status_code == 404 and _tiles() == 0
        run.case("reports.add_to_dashboard", entity, "another's board", False,
                 False if unchanged else None, f"(HTTP {r.status_code})")  # fmt: skip
        r = run.post(f"/reports/{mine[0]}/dashboard", {"dashboard": str(boards["mine"])})
        run.case("reports.add_to_dashboard", entity, "own", True,
                 r.status_code == 303 and _tiles() == 1, f"(HTTP {r.status_code})")  # fmt: skip
        status = run.post(f"/reports/{mine[0]}/delete").status_code
        run.case("reports.delete_report", entity, "own", True,
                 status == 303 and mine[0] not in _stored(), f"(HTTP {status})")  # fmt: skip
    _clear()
