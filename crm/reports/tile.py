"""The ``"report"`` dashboard tile: a saved report's chart and the table behind it, each
figure linking to exactly its records (as on the report's page).

The tile stores only ``{"report_id": ...}``. When it loads, the report is opened for the
person looking (``saved.get``: their own, or shared with one of their roles, on an entity
they may read) and run with their scope and readable fields (``engine.run``). A report
they may not open, one since deleted, or one naming a field they may not read shows a
message in the tile, never someone else's numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import after_this_request, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.analytics import usage
from crm.analytics.filters import Filters
from crm.analytics.tiles import TileKind, register
from crm.errors import DomainError, NotFound, ValidationFailed
from crm.ids import as_id
from crm.reports import chart as charts
from crm.reports import saved
from crm.reports.engine import run

KIND = "report"


def configure(user: Any, form: Mapping[str, Any]) -> dict:
    """The tile's settings from the add-tile form: one of the reports ``user`` may open."""
    report_id = as_id(form.get("report"))
    try:
        if report_id is None:
            raise NotFound("")
        row = saved.get(user, report_id)
    except NotFound:
        message = _("Choose one of the reports offered.")
        raise ValidationFailed(message, errors={"report": [message]}) from None
    return {"report_id": row.id}


def _count_use(user_id: int, entity_key: str, report_id: int) -> None:
    """One use of the report (the adoption evaluation's depth), once the tile is drawn."""

    if not current_app.config.get("USAGE_RECORDING", True):
        return

    def after(response):
        if response.status_code < 400:
            usage.record(user_id, entity_key, usage.REPORT, f"report:{report_id}")
        return response

    after_this_request(after)


def compute(user: Any, config: Mapping[str, Any], filters: Filters) -> dict:
    """The saved report run for ``user`` (the dashboard's period does not apply: the
    report keeps its own filters)."""
    report_id = as_id(config.get("report_id"))
    try:
        if report_id is None:
            raise NotFound("")
        row = saved.get(user, report_id)
    except NotFound:
        raise DomainError(
            _("This report was deleted or is not shared with you: it cannot be shown here.")
        ) from None
    name = saved.name_of(row)
    try:
        result = run(user, saved.stored_definition(user, row))
    except (ValidationFailed, NotFound) as exc:
        raise DomainError(
            _("%(report)s cannot be shown to you: %(reason)s", report=name, reason=exc.message)
        ) from None
    _count_use(user.id, row.entity_key, row.id)
    return {"title": name, "report": row, "result": result, "chart": charts.build(result)}


register(
    TileKind(KIND, _l("Saved report"), "reports/tile.html", compute, False, configure=configure)
)
