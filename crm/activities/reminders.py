"""Task reminders and "assigned to you" notices.

A task planned with a reminder stores the reminder's moment (``remind_at``, naive UTC),
worked out once from the due day and time in the *assignee's* time zone (their own, else
the company's: ``crm.i18n``); a task without a time is due at 09:00 local time. Every
minute the job queue runs ``send_due`` (``crm.jobs.registry.PERIODIC``): one indexed
query (``ix_tasks_remind``) finds the open tasks whose moment has come and that were not
reminded yet, in batches; each assignee who may still read the task's record gets a
notification (kind ``task_reminder``, linked to the record) and the task is marked
reminded in the same unit of work, so a reminder is sent once.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm import i18n, timeutil
from crm.access.models import User
from crm.activities.models import DEFAULT_DUE_TIME, Task
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.notifications import service as notifications
from crm.notifications.models import TASK_ASSIGNED, TASK_REMINDER
from crm.records import present
from crm.records.query import scoped, table_of
from crm.uow import unit_of_work

BATCH = 200


def zone_of(user: Any) -> str:
    """The time zone ``user`` reads times in: their own, else the company's."""
    return i18n.known_timezone(getattr(user, "timezone", None)) or i18n.company_timezone()


def remind_at(due_date: date, due_time: time | None, minutes: int, assignee_id: int) -> datetime:
    """The moment (naive UTC) to remind ``assignee_id`` of a task due on ``due_date`` at
    ``due_time`` (09:00 without one) in their time zone, ``minutes`` before."""
    user = db.session.get(User, assignee_id)
    local = datetime.combine(due_date, due_time or DEFAULT_DUE_TIME)
    due = timeutil.to_utc(local, zone_of(user), strict=False)
    return due - timedelta(minutes=minutes)


def notify_assigned(task: Task, spec: EntitySpec, row: Any, actor: Any) -> None:
    """Tell the task's assignee that ``actor`` gave them ``task`` on the record ``row``
    (in the caller's unit of work), if they may read that record. The subject is quoted
    as typed, never as a template."""
    assignee = db.session.get(User, task.assignee_id)
    names = _readable_names(assignee, spec, {task.record_id}) if assignee is not None else {}
    if task.record_id not in names:
        return  # a record they may not read: no word of it (nor of its tasks)
    with i18n.language_of(assignee):
        title = _("%(name)s assigned you a task: %(subject)s", name=actor.display_name,
                  subject=task.subject)  # fmt: skip
        body = _due_words(task, names[task.record_id])
    notifications.notify(
        [assignee.id], kind=TASK_ASSIGNED, title=title, body=body, spec=spec, row=row,
        actor_id=actor.id, literal=True,
    )  # fmt: skip


def _due_words(task: Task, record_name: str) -> str:
    """ "Acme · Due 31 Jan 2030 at 10:00": the record, and the due day (and time)."""
    from flask_babel import format_date

    day = format_date(task.due_date, "medium")
    if task.due_time is None:
        due = _("Due %(day)s", day=day)
    else:
        due = _("Due %(day)s at %(time)s", day=day, time=task.due_time.strftime("%H:%M"))
    return f"{record_name} · {due}" if record_name else due


def due_query(now: datetime, limit: int = BATCH):
    """The one query of a sweep: open tasks whose reminder moment is at or before ``now``
    and that were not reminded yet (``ix_tasks_remind``), oldest moment first."""
    return (
        select(Task)
        .where(Task.status == "open", Task.reminded_at.is_(None), Task.remind_at <= now)
        .order_by(Task.remind_at, Task.id)
        .limit(limit)
    )


def _readable_names(user: Any, spec: EntitySpec, ids: set[int]) -> dict[int, str]:
    """The names, as ``user`` may read them, of those records of ``ids`` they may read."""
    table = table_of(spec)
    query = scoped(user, spec, "read").where(table.c.id.in_(sorted(ids)))
    return {
        row["id"]: present.record_name(spec, row, user)
        for row in db.session.execute(query).mappings()
    }


def _remind(tasks: list[Task], now: datetime) -> int:
    """Notify the assignees of ``tasks`` (those who may still read the record) and mark
    every one of them reminded. Returns how many were notified."""
    users = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_({t.assignee_id for t in tasks if t.assignee_id}))
    )}  # fmt: skip
    sent = 0
    readable: dict[tuple[int, str], dict[int, str]] = {}
    for task in tasks:
        task.reminded_at = now
        user = users.get(task.assignee_id) if task.assignee_id else None
        spec = specs.current().entity(task.entity_key)
        if user is None or not user.is_active or spec is None:
            continue
        key = (user.id, spec.key)
        if key not in readable:
            wanted = {t.record_id for t in tasks if t.entity_key == spec.key}
            readable[key] = _readable_names(user, spec, wanted)
        if task.record_id not in readable[key]:
            continue  # a record they may no longer read: no word of it
        with i18n.language_of(user):
            title = _("Reminder: %(subject)s", subject=task.subject)
            body = _due_words(task, readable[key][task.record_id])
        notifications.notify(
            [user.id], kind=TASK_REMINDER, title=title, body=body, spec=spec,
            row={"id": task.record_id}, literal=True,
        )  # fmt: skip
        sent += 1
    return sent


def send_due(now: datetime | None = None, batch: int = BATCH) -> int:
    """Send every reminder whose moment has come by ``now`` (naive UTC, default now), a
    batch per unit of work. Returns how many assignees were notified."""
    moment = now or timeutil.utcnow()
    total = 0
    while True:
        with unit_of_work():
            tasks = list(db.session.scalars(due_query(moment, batch)))
            total += _remind(tasks, moment) if tasks else 0
        if len(tasks) < batch:
            return total
