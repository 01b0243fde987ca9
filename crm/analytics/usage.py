"""Usage recording: at most one upsert per request, after the response is built.

A request that succeeded (status below 400) on a route of ``AREAS`` adds one to the
counter of (signed-in person, today in UTC, entity, kind, detail) in ``usage_days``. The
area is read from the endpoint and its URL arguments only, so recording reads nothing
from the database: one statement (``INSERT ... ON CONFLICT DO UPDATE count = count + 1``)
on its own short transaction, on a connection of its own.

It never fails the request: the response is already built, and an error while recording
(a busy database, a lost connection) is logged and dropped. Losing a count is better than
losing someone's page.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

from flask import Flask, Response, request
from flask_login import current_user
from sqlalchemy import insert

from crm.analytics.models import UsageDay
from crm.extensions import db
from crm.timeutil import utcnow
from crm.web.htmx import is_htmx

log = logging.getLogger(__name__)

# Kinds of use, as the adoption evaluation names them.
VIEW_LIST, OPEN, CREATE, EDIT, IMPORT, BOARD, EXPORT, ACTIVITY, TASK, REPORT, HOME = (
    "list",
    "open",
    "create",
    "edit",
    "import",
    "board",
    "export",
    "activity",
    "task",
    "report",
    "home",
)
KINDS = (VIEW_LIST, OPEN, CREATE, EDIT, IMPORT, BOARD, EXPORT, ACTIVITY, TASK, REPORT, HOME)

# endpoint -> (kind, methods that count). Fragments of a page the person already counted
# (htmx blocks, lookups, counts) are not listed: one page, one count.
AREAS: dict[str, tuple[str, frozenset[str]]] = {
    "records.record_list": (VIEW_LIST, frozenset({"GET"})),
    "records.record_page": (OPEN, frozenset({"GET"})),
    "records.record_new": (CREATE, frozenset({"POST"})),
    "records.record_edit": (EDIT, frozenset({"POST"})),
    "records.field_save": (EDIT, frozenset({"POST"})),
    "records.stage_move": (EDIT, frozenset({"POST"})),
    "records.bulk_edit": (EDIT, frozenset({"POST"})),
    "records.record_export": (EXPORT, frozenset({"GET"})),
    "pipelines.board": (BOARD, frozenset({"GET"})),
    "pipelines.move": (EDIT, frozenset({"POST"})),
    "imports.import_list": (IMPORT, frozenset({"POST"})),
    "activities.activity_log": (ACTIVITY, frozenset({"POST"})),
    "activities.task_add": (TASK, frozenset({"POST"})),
    "web.home": (HOME, frozenset({"GET"})),
    # a saved report opened (its page; on a dashboard, its tile counts: crm.reports.tile)
    "reports.open_report": (REPORT, frozenset({"GET"})),
}
_DETAIL = re.compile(r"^[a-z0-9_]{1,41}$")


def area_of(endpoint: str | None, method: str, view_args: dict, args: Any) -> tuple | None:
    """(entity key, kind, detail) a request counts for, or None. ``detail``: the list view
    (``view:<id>``) or pipeline (``pipeline:<key>``) used, when the request names one in a
    well-formed way, or the saved report (``report:<id>``) opened (anything else is
    dropped, never stored)."""
    found = AREAS.get(endpoint or "")
    if found is None or method not in found[1]:
        return None
    kind = found[0]
    entity_key = str(view_args.get("key") or "")
    if entity_key and not _DETAIL.match(entity_key):
        return None
    detail = ""
    if kind == VIEW_LIST and _DETAIL.match(str(args.get("view") or "")):
        detail = f"view:{args.get('view')}"
    elif kind == BOARD and _DETAIL.match(str(args.get("pipeline") or "")):
        detail = f"pipeline:{args.get('pipeline')}"
    elif kind == REPORT and isinstance(view_args.get("report_id"), int):
        detail = f"report:{view_args['report_id']}"
    return entity_key, kind, detail


def upsert(user_id: int, day: date, entity_key: str, kind: str, detail: str = "", n: int = 1):
    """The one statement that adds ``n`` to an area's counter (creating its row)."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - only the two supported databases
        return insert(UsageDay).values(
            user_id=user_id, day=day, entity_key=entity_key, kind=kind, detail=detail, count=n
        )
    statement = dialect_insert(UsageDay).values(
        user_id=user_id, day=day, entity_key=entity_key, kind=kind, detail=detail, count=n
    )
    return statement.on_conflict_do_update(
        index_elements=["day", "user_id", "entity_key", "kind", "detail"],
        set_={"count": UsageDay.count + statement.excluded.count},
    )


def record(user_id: int, entity_key: str, kind: str, detail: str = "", *, day=None) -> bool:
    """Count one use now, on a connection and transaction of its own. Returns whether it
    was stored (False after an error, which is logged, never raised)."""
    try:
        with db.engine.begin() as connection:
            connection.execute(upsert(user_id, day or utcnow().date(), entity_key, kind, detail))
        return True
    except Exception:  # recording must never fail the request
        log.warning("usage not recorded", exc_info=True)
        return False


def _after(response: Response) -> Response:
    if response.status_code >= 400:
        return response
    found = area_of(request.endpoint, request.method, request.view_args or {}, request.args)
    if found is None or not getattr(current_user, "is_authenticated", False):
        return response
    if found[1] == REPORT and is_htmx():
        return response  # the builder refreshing an open report: already counted
    record(current_user.id, *found)
    return response


def install(app: Flask) -> None:
    """Record usage after each request of ``app`` (``USAGE_RECORDING`` False: never)."""
    if app.config.get("USAGE_RECORDING", True):
        app.after_request(_after)
