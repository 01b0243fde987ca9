"""The home page (issue 19) at BENCH_ROWS (default 1,000,000) deals: its first paint and
each of its blocks, median and p99, through the full Flask stack.

The data is the board benchmark's (``bench.board_data``: a "sales" pipeline of seven
stages, owners over 200 users, REP reading their own deals only, 5,000 at 1,000,000),
plus a team lead (LEAD: "own department" read scope over a department of five owners,
about 25,000 deals at 1,000,000), 60 open tasks for REP (a third overdue), 20 unread
notifications, and an administrator for the set-up health block.

- ``first_paint``: GET / (the page with a placeholder per block; reads no records);
- ``block_<name>``: GET /home/block/<name> as htmx asks it, for REP (tasks, pipeline,
  recent, pool, notifications), LEAD (team) and the administrator (health).

Usage recording is on, as in production (one upsert for the page). The team block keeps
its figures a minute and the health block five (``crm.analytics.home.remembered_for``):
``block_team_uncached`` and ``block_health_uncached`` time them worked out every time.
``adoption_page``: the adoption evaluation over eight weeks, five times. Targets: first paint
≤ 50 ms, every block ≤ 100 ms (medians). BENCH_REQUESTS (default 100) per request;
BENCH_KEEP_DB=1 reuses the board benchmark's kept database (``board_<rows>``).
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from sqlalchemy import select, text, update

from bench.board_data import REP, ROWS, setup
from bench.common import app_on, database, repeat, run_on_databases
from crm.access import models, policy
from crm.access.models import User
from crm.activities.models import Task
from crm.auth import service as auth
from crm.extensions import db
from crm.metadata import specs
from crm.notifications.models import Notification
from crm.timeutil import utcnow
from tests.support.client import CRMClient

N = int(os.environ.get("BENCH_REQUESTS", "100"))
LEAD = 10  # the team lead: reads their department's deals
TEAM = range(10, 15)  # the department's members (record owners)
ADMIN_EMAIL = "bench-admin@example.com"
TARGETS = {"first_paint_ms": 50.0, "block_ms": 100.0}
REP_BLOCKS = ("tasks", "pipeline", "recent", "pool", "notifications")


def _extras() -> int:
    """The team lead, REP's tasks and notifications, an administrator (once); returns the
    administrator's id."""
    admin = db.session.scalar(select(User).where(User.email == ADMIN_EMAIL))
    if admin is not None:
        return admin.id
    dept = models.Department(name="Bench team", path="/")
    db.session.add(dept)
    db.session.flush()
    dept.path = f"/{dept.id}/"
    db.session.execute(update(User).where(User.id.in_(list(TEAM))).values(department_id=dept.id))
    role = models.Role(name="Team lead")
    db.session.add(role)
    db.session.flush()
    db.session.add_all(
        models.RoleGrant(role_id=role.id, entity_key="*", action=a, level=policy.DEPARTMENT)
        for a in policy.ACTIONS
    )
    db.session.execute(models.user_roles.delete().where(models.user_roles.c.user_id == LEAD))
    db.session.execute(models.user_roles.insert().values(user_id=LEAD, role_id=role.id))
    table = specs.current().table("deal")
    rep_deals = db.session.scalars(
        select(table.c.id).where(table.c.owner_id == REP).order_by(table.c.id).limit(60)
    ).all()
    team_deals = db.session.scalars(
        select(table.c.id, table.c.owner_id).where(table.c.owner_id.in_(list(TEAM))).limit(200)
    ).all()
    today = utcnow().date()
    for i, rid in enumerate(rep_deals):
        db.session.add(
            Task(entity_key="deal", record_id=rid, subject=f"Follow up {i}", assignee_id=REP,
                 due_date=today + timedelta(days=(i % 3 - 1) * (1 + i % 7)))
        )  # fmt: skip
    for i, rid in enumerate(team_deals):
        db.session.add(
            Task(entity_key="deal", record_id=rid, subject=f"Team task {i}",
                 assignee_id=TEAM[i % len(TEAM)], due_date=today - timedelta(days=1 + i % 9))
        )  # fmt: skip
    for i in range(20):
        db.session.add(Notification(user_id=REP, kind="assigned", title=f"Deal {i} assigned"))
    admin = User(email=ADMIN_EMAIL, display_name="Admin", password_hash="x", is_admin=True)
    db.session.add(admin)
    db.session.commit()
    return admin.id


def _client(app, user_id: int) -> CRMClient:
    client = app.test_client()
    session = auth.open_session(db.session.get(User, user_id), ip=None, user_agent="bench")
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = session.token
    return client


def _getter(client: CRMClient, url: str, hx: bool = False):
    headers = {"HX-Request": "true"} if hx else {}

    def get():
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
        return response

    return get


def _cold(app, name: str, get):
    """``get`` with the block's short-lived figures forgotten first (what the first
    request of a minute, or of five for the health block, costs)."""

    def cold():
        app.extensions.pop(f"atelier_home_{name}", None)
        return get()

    return cold


def run(kind: str) -> dict:
    out: dict = {"rows": ROWS, "requests": N}
    with database(kind, keep_as=f"board_{ROWS}") as url, app_on(url) as app:
        app.test_client_class = CRMClient
        setup(kind, out)
        start = time.perf_counter()
        admin_id = _extras()
        out["extras_seconds"] = round(time.perf_counter() - start, 1)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        rep, lead, admin = _client(app, REP), _client(app, LEAD), _client(app, admin_id)
        pages = {"first_paint": _getter(rep, "/")}
        pages |= {f"block_{b}": _getter(rep, f"/home/block/{b}", hx=True) for b in REP_BLOCKS}
        pages["block_team"] = _getter(lead, "/home/block/team", hx=True)
        pages["block_health"] = _getter(admin, "/home/block/health", hx=True)
        assert "/home/block/team" in _getter(lead, "/")().text, "the lead has no team block"
        pages["block_team_uncached"] = _cold(app, "team", pages["block_team"])
        pages["block_health_uncached"] = _cold(app, "health", pages["block_health"])
        for name, get in pages.items():
            get()  # warm: specs, rights, plans
            figures = repeat(get, N)
            out[name] = {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}
        adoption = _getter(admin, "/admin/adoption/?weeks=8")
        adoption()
        out["adoption_page"] = {k: round(v, 1) for k, v in repeat(adoption, 5).items()}
        slowest = max(
            v["median_ms"]
            for k, v in out.items()
            if k.startswith("block_") and not k.endswith("_uncached")
        )
        out["targets"] = TARGETS
        out["met"] = {
            "first_paint": out["first_paint"]["median_ms"] <= TARGETS["first_paint_ms"],
            "blocks": slowest <= TARGETS["block_ms"],
        }
    return out


def main() -> None:
    run_on_databases("home", run, ROWS)
