"""Depth: which configured shared views, pipelines, rules and reports are used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from crm.analytics.adoption.period import Period, moment, readable_entities
from crm.analytics.models import UsageDay
from crm.automation.models import AutomationRule, RuleRun
from crm.extensions import db
from crm.metadata.models import ListViewRow
from crm.pipelines.models import StageMove
from crm.pipelines.rules import pipelines_for

# --- depth ------------------------------------------------------------------------------


@dataclass
class Used:
    kind: str  # "view", "pipeline", "rule", "report"
    entity_key: str
    name: str
    uses: int


def depth(reader: Any, period: Period) -> list[Used]:
    """How often each configured shared list view, pipeline and automation rule was used
    in the period (opened, moved through, run); reports once they are recorded."""
    out: list[Used] = []
    readable = {s.key for s in readable_entities(reader)}
    view_uses = dict(
        db.session.execute(
            select(UsageDay.detail, func.sum(UsageDay.count))
            .where(
                UsageDay.day >= period.start,
                UsageDay.day < period.end,
                UsageDay.detail.like("view:%"),
            )
            .group_by(UsageDay.detail)
        ).all()
    )
    for v in db.session.scalars(select(ListViewRow).where(ListViewRow.owner_id.is_(None))):
        if v.entity_key in readable:
            out.append(Used("view", v.entity_key, v.name, int(view_uses.get(f"view:{v.id}", 0))))
    moves = dict(
        ((k, p), n)
        for k, p, n in db.session.execute(
            select(StageMove.entity_key, StageMove.pipeline, func.count())
            .where(StageMove.at >= moment(period.start), StageMove.at < moment(period.end))
            .group_by(StageMove.entity_key, StageMove.pipeline)
        )
    )
    boards = {
        (k, detail): int(n or 0)
        for k, detail, n in db.session.execute(
            select(UsageDay.entity_key, UsageDay.detail, func.sum(UsageDay.count))
            .where(
                UsageDay.day >= period.start, UsageDay.day < period.end, UsageDay.kind == "board"
            )
            .group_by(UsageDay.entity_key, UsageDay.detail)
        )
    }
    for spec in readable_entities(reader):
        found = pipelines_for(spec)
        for p in found.active if found is not None else ():
            # moved through, or its board opened (a board without ``?pipeline=`` is the default's)
            opened = boards.get((spec.key, f"pipeline:{p.key}"), 0)
            if found.default is not None and found.default.key == p.key:
                opened += boards.get((spec.key, ""), 0)
            out.append(
                Used("pipeline", spec.key, p.name, int(moves.get((spec.key, p.key), 0)) + opened)
            )
    runs = dict(
        db.session.execute(
            select(RuleRun.rule_id, func.count())
            .where(RuleRun.at >= moment(period.start), RuleRun.at < moment(period.end))
            .group_by(RuleRun.rule_id)
        ).all()
    )
    for rule in db.session.scalars(select(AutomationRule).where(AutomationRule.enabled.is_(True))):
        if rule.entity_key in readable:
            out.append(Used("rule", rule.entity_key, rule.name, int(runs.get(rule.id, 0))))
    out += _reports_used(readable, period)
    return out


def _reports_used(readable: set[str], period: Period) -> list[Used]:
    """Each saved report shared with roles (opened, or drawn on a dashboard); private
    reports together, unnamed (one person's own work)."""
    from flask_babel import gettext as _

    from crm.access import names
    from crm.reports.models import ReportShare, SavedReport

    uses = dict(
        db.session.execute(
            select(UsageDay.detail, func.sum(UsageDay.count))
            .where(
                UsageDay.day >= period.start,
                UsageDay.day < period.end,
                UsageDay.kind == "report",
                UsageDay.detail.like("report:%"),
            )
            .group_by(UsageDay.detail)
        ).all()
    )
    shared = set(db.session.scalars(select(ReportShare.report_id).distinct()))
    out: list[Used] = []
    private = 0
    for r in db.session.scalars(select(SavedReport).order_by(SavedReport.name)):
        n = int(uses.get(f"report:{r.id}", 0) or 0)
        if r.id not in shared:
            private += n
        elif r.entity_key in readable:
            out.append(Used("report", r.entity_key, names.shown(r.name, r.translations), n))
    if private:
        out.append(Used("report", "", _("Private reports"), private))
    return out
