"""The adoption evaluation in words (the weakest spots first) and as CSV.

Sentences are built from the figures of ``crm.analytics.adoption`` in the reader's
language; each has a severity (0..1, higher is weaker) so the worst come first. Groups
hidden from the reader (too few people) are never described.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask_babel import format_decimal, format_percent, ngettext
from flask_babel import gettext as _

from crm.analytics.adoption import Evaluation
from crm.pipelines.rules import stage_name

LOW_ACTIVITIES = 1.0  # activities per person per week below which a group "logs almost none"
LOW_ACTIVE = 0.5  # share of a group's people active below which it is named
LOW_FILL = 0.3  # fill rate below which a field is named
LOW_GATE_FILL = 0.9  # fill rate of a field a stage requires, at or past it, to be named
NO_ACTIVITY = 0.5  # share of records without any activity above which it is named
MOST = 6  # sentences shown


@dataclass(frozen=True)
class Sentence:
    kind: str  # what it is about: the first of each kind is told before a second of any
    severity: float
    text: str


def _pct(value: float) -> str:
    return format_percent(round(value, 2))


def sentences(ev: Evaluation) -> list[str]:
    """The weakest spots of ``ev`` in plain words, worst first (at most ``MOST``)."""
    found: list[Sentence] = []
    weeks = max(ev.period.weeks, 1)
    for g in ev.departments:
        if g.hidden or not g.people or g.key is None:
            continue  # "No department" is no team to name
        per_week = g.activities / g.people / weeks
        if per_week < LOW_ACTIVITIES:
            found.append(
                Sentence(
                    "activities",
                    1 - per_week / LOW_ACTIVITIES,
                    _(
                        "%(department)s logs almost no activities (%(num)s per person per week).",
                        department=g.name,
                        num=format_decimal(round(per_week, 1)),
                    ),
                )
            )
        if g.share is not None and g.share < LOW_ACTIVE:
            found.append(
                Sentence(
                    "share",
                    1 - g.share,
                    _(
                        "Only %(pct)s of %(department)s used the CRM in this period.",
                        pct=_pct(g.share),
                        department=g.name,
                    ),
                )
            )
    for c in ev.completeness:
        if not c.records:
            continue
        for f, n in c.fill:
            rate = c.rate(n)
            if rate < LOW_FILL:
                found.append(
                    Sentence(
                        "fill",
                        0.9 * (1 - rate),
                        _(
                            "The %(field)s field is filled in %(pct)s of %(entities)s.",
                            field=f.label,
                            pct=_pct(rate),
                            entities=c.spec.label_plural.lower(),
                        ),
                    )
                )
        if c.without_owner:
            found.append(
                Sentence(
                    "owner",
                    0.8 * c.rate(c.without_owner),
                    ngettext(
                        "%(count)s of %(entities)s has no owner.",
                        "%(count)s of %(entities)s have no owner.",
                        c.without_owner,
                        count=format_decimal(c.without_owner),
                        entities=c.spec.label_plural.lower(),
                    ),
                )
            )
        if c.records and c.rate(c.without_activity) > NO_ACTIVITY:
            found.append(
                Sentence(
                    "no_activity",
                    0.7 * c.rate(c.without_activity),
                    ngettext(
                        "%(count)s of %(entities)s has no activity at all.",
                        "%(count)s of %(entities)s have no activity at all.",
                        c.without_activity,
                        count=format_decimal(c.without_activity),
                        entities=c.spec.label_plural.lower(),
                    ),
                )
            )
    found += _gates(ev) + _effects(ev)
    for u in ev.used:
        if u.kind == "pipeline" and not u.uses:
            found.append(
                Sentence(
                    "pipeline",
                    0.6,
                    _(
                        "Nobody moved a record through the %(pipeline)s pipeline in this period.",
                        pipeline=u.name,
                    ),
                )
            )
    if ev.never_signed_in and ev.people:
        found.append(
            Sentence(
                "never",
                ev.never_signed_in / ev.people,
                ngettext(
                    "%(count)s person has never signed in.",
                    "%(count)s people have never signed in.",
                    ev.never_signed_in,
                    count=format_decimal(ev.never_signed_in),
                ),
            )
        )
    return [s.text for s in _weakest(found)]


def _weakest(found: list[Sentence]) -> list[Sentence]:
    """The ``MOST`` worst sentences, worst first, the worst of each kind before any
    second of a kind (three departments logging few activities do not crowd out an
    empty required field)."""
    found = sorted(found, key=lambda s: -s.severity)
    seen: set[str] = set()
    lead, rest = [], []
    for s in found:
        (rest if s.kind in seen else lead).append(s)
        seen.add(s.kind)
    return sorted((lead + rest)[:MOST], key=lambda s: -s.severity)


def _gates(ev: Evaluation) -> list[Sentence]:
    """A stage's required field missing on records at or past that stage."""
    found = []
    for g in ev.gates:
        if not g.records:
            continue
        for f, n in g.fill:
            rate = g.rate(n)
            if rate < LOW_GATE_FILL:
                found.append(
                    Sentence(
                        "gate",
                        0.85 * (1 - rate),
                        _(
                            "Only %(pct)s of %(entities)s at or past the %(stage)s stage have "
                            "the %(field)s field it requires.",
                            pct=_pct(rate),
                            entities=g.spec.label_plural.lower(),
                            stage=stage_name(g.stage),
                            field=f.label,
                        ),
                    )
                )
    return found


def _effects(ev: Evaluation) -> list[Sentence]:
    """Departments whose win rate fell, or whose deals took longer to win, after go-live."""
    found = []
    for e in ev.effects:
        for d in e.departments:
            if d.hidden or d.department_id is None:
                continue
            before, after = d.win_rate("before"), d.win_rate("after")
            if before is not None and after is not None and after < before:
                found.append(
                    Sentence(
                        "win_rate",
                        0.4 + 0.6 * (before - after),
                        _(
                            "In %(department)s, the win rate of the %(pipeline)s pipeline fell "
                            "from %(before)s before go-live to %(after)s after.",
                            department=d.department,
                            pipeline=e.pipeline,
                            before=_pct(before),
                            after=_pct(after),
                        ),
                    )
                )
            slow, fast = d.cycle_days.get("after"), d.cycle_days.get("before")
            if slow is not None and fast is not None and slow > fast:
                found.append(
                    Sentence(
                        "cycle",
                        0.3 + 0.5 * min(1.0, (slow - fast) / max(fast, 1.0)),
                        _(
                            "In %(department)s, %(entities)s of the %(pipeline)s pipeline "
                            "took %(after)s days to be won after go-live, against %(before)s "
                            "before.",
                            department=d.department,
                            entities=e.spec.label_plural.lower(),
                            pipeline=e.pipeline,
                            after=format_decimal(round(slow, 1)),
                            before=format_decimal(round(fast, 1)),
                        ),
                    )
                )
    return found


def to_csv(ev: Evaluation) -> str:
    """The evaluation's figures as CSV rows: section, subject, measure, value."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "subject", "measure", "value"])
    for week in ev.weeks:
        subject = week.start.isoformat()
        w.writerow(["week", subject, "weekly_active", week.weekly_active])
        w.writerow(["week", subject, "daily_active", f"{week.daily_active:.2f}"])
        w.writerow(["week", subject, "records_created", week.created])
        w.writerow(["week", subject, "activities", week.activities])
        w.writerow(["week", subject, "created_per_person", f"{week.created_per_person:.2f}"])
        w.writerow(["week", subject, "activities_per_person", f"{week.activities_per_person:.2f}"])
    for section, groups in (("department", ev.departments), ("role", ev.roles)):
        for g in groups:
            if g.hidden:
                continue
            w.writerow([section, _safe(g.name), "people", g.people])
            w.writerow([section, _safe(g.name), "active", g.active])
            w.writerow([section, _safe(g.name), "activities", g.activities])
    for c in ev.completeness:
        w.writerow(["records", c.spec.key, "count", c.records])
        w.writerow(["records", c.spec.key, "without_owner", c.without_owner])
        w.writerow(["records", c.spec.key, "without_activity", c.without_activity])
        for f, n in c.fill:
            w.writerow(["fill", f"{c.spec.key}.{f.key}", "filled", n])
    for u in ev.used:
        w.writerow(["use", f"{u.kind}:{u.entity_key}:{_safe(u.name)}", "uses", u.uses])
    for e in ev.effects:
        for side in ("before", "after"):
            subject = f"{e.spec.key}:{_safe(e.pipeline)}:{side}"
            w.writerow(["effect", subject, "closed", e.closed.get(side, 0)])
            w.writerow(["effect", subject, "won", e.won.get(side, 0)])
            days = e.cycle_days.get(side)
            w.writerow(
                ["effect", subject, "median_cycle_days", "" if days is None else f"{days:.1f}"]
            )
            for d in e.departments:
                if d.hidden:
                    continue
                subject = f"{e.spec.key}:{_safe(e.pipeline)}:{_safe(d.department or '')}:{side}"
                w.writerow(["department_effect", subject, "closed", d.closed.get(side, 0)])
                w.writerow(["department_effect", subject, "won", d.won.get(side, 0)])
                days = d.cycle_days.get(side)
                w.writerow(
                    [
                        "department_effect",
                        subject,
                        "median_cycle_days",
                        "" if days is None else f"{days:.1f}",
                    ]
                )
    for g in ev.gates:
        subject = f"{g.spec.key}:{_safe(g.pipeline)}:{g.stage.key}"
        w.writerow(["stage_gate", subject, "records", g.records])
        for f, n in g.fill:
            w.writerow(["stage_gate", f"{subject}.{f.key}", "filled", n])
    return out.getvalue()


def _safe(text: str) -> str:
    """A name as a spreadsheet shows it, never as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
