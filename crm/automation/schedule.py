"""Scheduled rules: "date" (a day relative to a date field, once or every year) and "held"
(no activity for N days; in a stage for N days), evaluated by a periodic job.

Per rule, ONE statement finds the matching records and marks them fired:
``INSERT INTO automation_firings (rule, record, occasion) SELECT ... RETURNING record``,
the SELECT being the rule owner's scoped query with the rule's conditions, the trigger's
condition and "not fired for this occasion yet" (the unique mark: a rule never fires
twice for one occasion, however often the job runs). The records found are handed to
"automation.batch" jobs of ``BATCH`` records each, queued in the same unit of work, so
thousands of matches never hold the queue in one job.

Occasions: a "date" rule's is the day it is due (every year its own); "no activity"'s is
the record's last contact moment (its latest activity, else its creation), so a new
activity starts a new stretch; "in stage"'s is the moment the record entered the stage.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
)

from crm import timeutil
from crm.activities.models import Activity
from crm.automation import spec as rule_specs
from crm.automation.engine import conditions_sql, owner_of
from crm.automation.events import BATCH_KIND
from crm.automation.models import RuleFiring
from crm.automation.spec import DATE, IN_STAGE, NO_ACTIVITY, RuleSpec
from crm.errors import DomainError
from crm.extensions import db
from crm.i18n import company_timezone
from crm.jobs import outbox
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.pipelines.models import StageMove
from crm.records.query import scoped, table_of
from crm.uow import unit_of_work

log = logging.getLogger(__name__)
BATCH = 500
GRACE_DAYS = 1  # a "date" rule also fires for yesterday's occasion (a job missed at midnight)
EVERY_MINUTES = "*/5"
# At most this many records fire per rule and run: a rule switched on over a large backlog
# (every quiet record of a million) drains it over a few runs instead of one run holding a
# long transaction; a "held" rule's occasions wait for the next run, and a "date" rule's
# day stays due for GRACE_DAYS (far more than a day's birthdays at this cap).
MAX_FIRED_PER_RUN = 50_000


def _day_match(col: ColumnElement, target: date, yearly: bool) -> ColumnElement:
    """The date column falls on ``target`` (every year when ``yearly``: same month and
    day, on or before ``target``; a 29 February date matches 28 February of other years)."""
    if not yearly:
        return col == target
    same = and_(extract("month", col) == target.month, extract("day", col) == target.day)
    if target.month == 2 and target.day == 28 and not _leap(target.year):
        same = or_(same, and_(extract("month", col) == 2, extract("day", col) == 29))
    return and_(same, col <= target)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _date_trigger(rule: RuleSpec, table: Any, today: date) -> tuple[ColumnElement, ColumnElement]:
    """(condition, occasion) of a "date" rule on ``today``: the field's date is the day
    ``offset_days`` before today (or yesterday: ``GRACE_DAYS``)."""
    col = table.c[rule.trigger.field]
    days = [today - timedelta(days=n) for n in range(GRACE_DAYS, -1, -1)]
    whens = [
        (_day_match(col, d - timedelta(days=rule.trigger.offset_days), rule.trigger.yearly),
         literal(d.isoformat()))
        for d in days
    ]  # fmt: skip
    return or_(*(w for w, _o in whens)), case(*whens, else_=literal(""))


def _held_trigger(
    rule: RuleSpec, spec: EntitySpec, table: Any, now: datetime
) -> tuple[Any, ColumnElement, ColumnElement]:
    """(the latest moments, grouped by record, to outer-join; condition; occasion) of a
    "held" rule: the stretch started at least ``days`` ago. The stretch starts at the
    record's latest activity (or stage move), never before the record was created.

    The latest moments come from ONE grouped read of the activity (or stage history)
    index joined to the records, not a correlated subquery per record: the start is used
    three times (the condition, the occasion, "not fired yet"), and a correlated subquery
    would be run three times per record."""
    trigger = rule.trigger
    if trigger.what == NO_ACTIVITY:
        latest = (
            select(
                Activity.record_id.label("record_id"), func.max(Activity.happened_at).label("at")
            )
            .where(Activity.entity_key == spec.key)
            .group_by(Activity.record_id)
            .subquery("latest")
        )
        extra: list = []
    else:
        latest = (
            select(StageMove.record_id.label("record_id"), func.max(StageMove.at).label("at"))
            .where(StageMove.entity_key == spec.key)
            .group_by(StageMove.record_id)
            .subquery("latest")
        )
        extra = [table.c[trigger.field or "stage"] == trigger.stage]
    created = table.c.created_at
    start = case((latest.c.at > created, latest.c.at), else_=created)
    cutoff = now - timedelta(days=trigger.days)
    # (no separate "created_at <= cutoff": on the index SQLite would read most rows twice)
    return latest, and_(*extra, start <= cutoff), cast(start, String(40))


def fire(rule: RuleSpec, now: datetime | None = None) -> list[int]:
    """Mark and queue the records the scheduled ``rule`` fires for at ``now`` (one
    statement), in the open unit of work; returns their ids."""
    now = now or timeutil.utcnow()
    spec = specs.current().entity(rule.entity_key)
    owner = owner_of(rule)
    if spec is None or owner is None:
        return []
    try:
        conditions = conditions_sql(owner, spec, rule)
    except DomainError as exc:
        log.warning("Scheduled rule %s skipped: %s", rule.id, exc.message)
        return []
    table = table_of(spec)
    latest = None
    if rule.trigger.type == DATE:
        if rule.trigger.field not in table.c:
            return []
        today = timeutil.local_today(company_timezone(), now)
        when, occasion = _date_trigger(rule, table, today)
    elif rule.trigger.what in (NO_ACTIVITY, IN_STAGE):
        if (rule.trigger.field or "stage") not in table.c and rule.trigger.what == IN_STAGE:
            return []
        latest, when, occasion = _held_trigger(rule, spec, table, now)
    else:
        return []
    fired = (
        select(RuleFiring.id)
        .where(
            RuleFiring.rule_id == rule.id,
            RuleFiring.record_id == table.c.id,
            RuleFiring.occasion == occasion,
        )
        .correlate_except(RuleFiring)  # the record and its latest moment come from outside
    )
    query = scoped(
        owner, spec, "read",
        columns=[literal(rule.id), table.c.id, occasion, literal(now)],
    ).where(when, *conditions, ~exists(fired)).limit(MAX_FIRED_PER_RUN)  # fmt: skip
    if latest is not None:
        query = query.outerjoin_from(table, latest, latest.c.record_id == table.c.id)
    ids = list(
        db.session.scalars(
            insert(RuleFiring)
            .from_select(["rule_id", "record_id", "occasion", "at"], query)
            .returning(RuleFiring.record_id)
        )
    )
    ids.sort()
    for start in range(0, len(ids), BATCH):
        outbox.enqueue(BATCH_KIND, {"rule": rule.id, "ids": ids[start : start + BATCH]})
    return ids


def tick(now: datetime | None = None) -> dict[str, int]:
    """Evaluate every enabled scheduled rule once (the periodic job's body): each rule in
    a unit of work of its own, so one rule's failure leaves the others' firings.
    Returns ``{rule key: records fired}``."""
    now = now or timeutil.utcnow()
    out: dict[str, int] = {}
    for rule in rule_specs.scheduled_rules():
        try:
            with unit_of_work():
                out[rule.key] = len(fire(rule, now))
        except Exception:  # one broken rule must not stop the schedule
            log.exception("Scheduled rule %s failed", rule.id)
            out[rule.key] = 0
    return out
