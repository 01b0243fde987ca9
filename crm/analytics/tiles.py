"""The kinds of dashboard tile, one entry each: what a tile shows, how it is worked out
for a viewer, and which template draws it. A dashboard stores only a tile's kind and
settings; each tile is worked out when it is loaded (its own request), for the person
looking, through the same scoped analytics as the pages (a shared dashboard never shows
someone else's numbers).

Adding a kind is one ``register`` call. The report engine (``crm.reports``) plugs its
saved reports in here as the ``"report"`` kind: ``register(TileKind("report", ...))``
with a ``compute`` that runs the saved report for the viewer and a template drawing its
chart and table; ``config`` then holds ``{"report_id": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from crm.analytics import pipeline as analytics
from crm.analytics.filters import Filters
from crm.analytics.forecast import forecast, month_bars
from crm.analytics.scope import subject
from crm.errors import DomainError
from crm.extensions import db
from crm.metadata import specs
from crm.records.query import scoped, table_of


@dataclass(frozen=True)
class TileKind:
    """``compute(user, config, filters) -> context`` for ``template``; ``needs_pipeline``:
    the kind is offered only for entities with pipelines. ``configure(user, form) ->
    config``: a kind set up from its own form (a saved report) rather than an entity;
    it raises ``ValidationFailed`` for a choice the person may not make."""

    key: str
    label: Any
    template: str
    compute: Callable[[Any, Mapping[str, Any], Filters], dict]
    needs_pipeline: bool = True
    configure: Callable[[Any, Mapping[str, Any]], dict] | None = None


KINDS: dict[str, TileKind] = {}


def register(kind: TileKind) -> None:
    """Add (or replace) a kind of tile."""
    KINDS[kind.key] = kind


def _entity(user: Any, config: Mapping[str, Any]):
    from crm.access import policy

    spec = specs.current().entity(str(config.get("entity") or ""))
    if spec is None or not policy.can(user, "read", spec.key):
        raise DomainError(_("This tile's records are not available to you."))
    return spec


def _subject(user: Any, config: Mapping[str, Any]):
    return subject(user, _entity(user, config), config.get("pipeline"))


def _created(user: Any, config: Mapping[str, Any], filters: Filters) -> dict:
    """Records created in the period, against the period before."""
    spec = _entity(user, config)
    table = table_of(spec)

    def count(period) -> int:
        start, end = period.moments()
        query = scoped(user, spec, columns=[func.count()]).where(
            table.c.created_at >= start, table.c.created_at < end
        )
        return int(db.session.scalar(query) or 0)

    now, before = count(filters.period), count(filters.period.previous())
    return {"title": _("New %(entities)s", entities=spec.label_plural), **_compare(now, before)}


def _won(user: Any, config: Mapping[str, Any], filters: Filters) -> dict:
    """Amount won (expected close in the period) against the period before."""
    subj = _subject(user, config)
    now = forecast(user, subj, filters).total.won
    earlier = Filters(filters.period.previous(), filters.owner_id, filters.department_id)
    before = forecast(user, subj, earlier).total.won
    return {"title": _("Won in %(pipeline)s", pipeline=subj.name), **_compare(now, before)}


def _compare(now: Any, before: Any) -> dict:
    change = None
    if before:
        change = float((now - before) / before)
    return {"value": now, "previous": before, "change": change}


def _conversion(user: Any, config: Mapping[str, Any], filters: Filters) -> dict:
    subj = _subject(user, config)
    return {"title": _("Conversion: %(pipeline)s", pipeline=subj.name),
            "steps": analytics.conversion(user, subj, filters)}  # fmt: skip


def _times(user: Any, config: Mapping[str, Any], filters: Filters) -> dict:
    subj = _subject(user, config)
    return {"title": _("Time in stage: %(pipeline)s", pipeline=subj.name),
            "times": analytics.time_in_stage(user, subj, filters)}  # fmt: skip


def _forecast(user: Any, config: Mapping[str, Any], filters: Filters) -> dict:
    subj = _subject(user, config)
    fc = forecast(user, subj, filters)
    return {"title": _("Forecast: %(pipeline)s", pipeline=subj.name), "forecast": fc,
            "bars": month_bars(fc)}  # fmt: skip


def _win_rate(user: Any, config: Mapping[str, Any], filters: Filters) -> dict:
    subj = _subject(user, config)
    return {"title": _("Win rate: %(pipeline)s", pipeline=subj.name),
            "rates": analytics.win_rates(user, subj, filters)["owner"]}  # fmt: skip


for _kind in (
    TileKind("created", _l("Number: new records"), "analytics/tiles/number.html", _created, False),
    TileKind("won", _l("Number: amount won"), "analytics/tiles/number.html", _won),
    TileKind("conversion", _l("Chart: conversion"), "analytics/tiles/conversion.html", _conversion),
    TileKind("time_in_stage", _l("Chart: time in stage"), "analytics/tiles/times.html", _times),
    TileKind(
        "forecast", _l("Chart: forecast by month"), "analytics/tiles/forecast.html", _forecast
    ),
    TileKind(
        "win_rate", _l("Chart: win rate by owner"), "analytics/tiles/win_rate.html", _win_rate
    ),
):
    register(_kind)
