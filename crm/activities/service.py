"""Tasks and logged activities of records, under the access policy of their record: reading
them needs the read right on it; adding, completing, reopening, deleting the edit right. A
record one may not read does not exist for them (``NotFound``), nor do its tasks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from flask_babel import format_number
from flask_babel import gettext as _
from sqlalchemy import select

from crm.access.models import User
from crm.activities import reminders
from crm.activities.models import KINDS, PRIORITIES, REMIND_CHOICES, Activity, Task
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.records import present
from crm.records import service as records
from crm.records.query import scoped, table_of
from crm.records.service import TimelineEntry
from crm.timeutil import to_local, utcnow
from crm.uow import unit_of_work

MAX_SUBJECT = 200
MAX_NOTES = 20_000
MAX_INT32 = 2**31 - 1  # task ids are 32-bit on PostgreSQL: a larger one is no task


@dataclass(frozen=True)
class TaskRow:
    """An open task as a list shows it."""

    id: int
    entity_key: str
    record_id: int
    subject: str
    due_date: date
    due_time: time | None
    priority: str
    assignee_id: int | None
    remind_minutes: int | None = None


def _text(value: Any, key: str, most: int, *, required: bool) -> str:
    text = str(value or "").replace("\x00", "").strip()
    if required and not text:
        raise ValidationFailed(_("Fill in the subject."), errors={key: [_("Required.")]})
    if len(text) > most:
        message = _("Use at most %(num)s characters.", num=format_number(most))
        raise ValidationFailed(message, errors={key: [message]})
    return text


def _assignee(assignee_id: int | None) -> int:
    found = None
    if assignee_id is not None and 1 <= assignee_id <= MAX_INT32:
        found = db.session.scalar(
            select(User.id).where(User.id == assignee_id, User.is_active.is_(True))
        )
    if found is None:
        message = _("Choose an active user.")
        raise ValidationFailed(message, errors={"assignee_id": [message]})
    return found


def _checked(subject: Any, due_date: date | None, priority: str, remind_minutes: int | None) -> str:
    """A task's settings checked as adding and changing one need them; the subject, cleaned.
    ``ValidationFailed`` keyed by field."""
    text = _text(subject, "subject", MAX_SUBJECT, required=True)
    if due_date is None:
        message = _("Choose a due date.")
        raise ValidationFailed(message, errors={"due_date": [message]})
    if priority not in PRIORITIES:
        raise ValidationFailed(_("Choose a priority."), errors={"priority": [_("Required.")]})
    if remind_minutes is not None and remind_minutes not in REMIND_CHOICES:
        message = _("Choose when to be reminded.")
        raise ValidationFailed(message, errors={"remind_minutes": [message]})
    return text


def add_task(
    user: Any,
    spec: EntitySpec,
    record_id: int,
    *,
    subject: str,
    due_date: date | None,
    due_time: time | None = None,
    priority: str = "normal",
    assignee_id: int | None = None,
    remind_minutes: int | None = None,
) -> int:
    """Plan a task on the record (edit right on it). ``assignee_id`` defaults to ``user``
    and must be an active user; someone else assigned the task is notified. With
    ``remind_minutes`` (one of ``REMIND_CHOICES``) the assignee is reminded that long before
    the due moment in their time zone (09:00 when the task has no time). Raises
    ``NotFound`` (record not editable or not there) or ``ValidationFailed`` (keyed by
    field)."""
    text = _checked(subject, due_date, priority, remind_minutes)
    with unit_of_work():
        row = records.get(user, spec, record_id, action="edit")
        assignee = _assignee(user.id if assignee_id is None else assignee_id)
        task = Task(
            entity_key=spec.key, record_id=record_id, subject=text, due_date=due_date,
            due_time=due_time, priority=priority, assignee_id=assignee, status="open",
            created_by=user.id, created_at=utcnow(), remind_minutes=remind_minutes,
        )  # fmt: skip
        if remind_minutes is not None:
            task.remind_at = reminders.remind_at(due_date, due_time, remind_minutes, assignee)
        db.session.add(task)
        db.session.flush()
        task_id = task.id
        if assignee != user.id:
            reminders.notify_assigned(task, spec, row, user)
    return task_id


def _task_for_edit(user: Any, task_id: int) -> Task:
    """The task, if ``user`` may edit its record; ``NotFound`` otherwise."""
    task = db.session.get(Task, task_id) if 1 <= task_id <= MAX_INT32 else None
    if task is None:
        raise NotFound(_("There is no such task, or you cannot see it."))
    spec = specs.current().entity(task.entity_key)
    if spec is None:
        raise NotFound(_("There is no such task, or you cannot see it."))
    try:
        records.get(user, spec, task.record_id, action="edit")
    except NotFound:
        raise NotFound(_("There is no such task, or you cannot see it.")) from None
    return task


def update_task(
    user: Any,
    task_id: int,
    *,
    subject: str,
    due_date: date | None,
    due_time: time | None = None,
    priority: str = "normal",
    assignee_id: int | None = None,
    remind_minutes: int | None = None,
) -> TaskRow:
    """Change a task (the edit right on its record, as adding it needed), checked as
    ``add_task`` checks a new one. A task moved or given a new reminder reminds again (its
    moment worked out anew); a new assignee other than ``user`` is notified. Raises
    ``NotFound`` or ``ValidationFailed`` (keyed by field); nothing is changed then."""
    text = _checked(subject, due_date, priority, remind_minutes)
    with unit_of_work():
        task = _task_for_edit(user, task_id)
        assignee = _assignee(task.assignee_id if assignee_id is None else assignee_id)
        moved = (task.due_date, task.due_time, task.remind_minutes, task.assignee_id) != (
            due_date, due_time, remind_minutes, assignee,
        )  # fmt: skip
        new_assignee = assignee != task.assignee_id
        task.subject, task.due_date, task.due_time = text, due_date, due_time
        task.priority, task.assignee_id, task.remind_minutes = priority, assignee, remind_minutes
        if moved:
            task.reminded_at = None
            task.remind_at = (
                None
                if remind_minutes is None
                else reminders.remind_at(due_date, due_time, remind_minutes, assignee)
            )
        db.session.flush()
        if new_assignee and assignee != user.id:
            spec = specs.current().entity(task.entity_key)
            row = records.get(user, spec, task.record_id)
            reminders.notify_assigned(task, spec, row, user)
        out = _row(task)
    return out


def task_of(user: Any, task_id: int) -> TaskRow:
    """The task, if ``user`` may edit its record; ``NotFound`` otherwise. Reads only."""
    return _row(_task_for_edit(user, task_id))


def set_done(user: Any, task_id: int, done: bool = True) -> TaskRow:
    """Mark the task done (or open again). Needs the edit right on its record; ``NotFound``
    otherwise. Marking a done task done again changes nothing."""
    with unit_of_work():
        task = _task_for_edit(user, task_id)
        if done and task.status != "done":
            task.status, task.done_at, task.done_by = "done", utcnow(), user.id
        elif not done and task.status != "open":
            task.status, task.done_at, task.done_by = "open", None, None
        db.session.flush()
        row = _row(task)
    return row


def delete_task(user: Any, task_id: int) -> TaskRow:
    """Delete the task for good (it is returned as it was). Needs the edit right on its
    record; ``NotFound`` otherwise."""
    with unit_of_work():
        task = _task_for_edit(user, task_id)
        row = _row(task)
        db.session.delete(task)
    return row


def log_activity(
    user: Any,
    spec: EntitySpec,
    record_id: int,
    *,
    kind: str,
    subject: str,
    outcome: str = "",
    notes: str = "",
    happened_at: datetime | None = None,
) -> int:
    """Log a call, meeting, e-mail or visit on the record (edit right on it).
    ``happened_at`` is naive UTC, default now, never in the future."""
    if kind not in KINDS:
        message = _("Choose what kind of activity it was.")
        raise ValidationFailed(message, errors={"kind": [message]})
    text = _text(subject, "subject", MAX_SUBJECT, required=True)
    result = _text(outcome, "outcome", MAX_SUBJECT, required=False)
    body = _text(notes, "notes", MAX_NOTES, required=False)
    now = utcnow()
    if happened_at is not None and happened_at > now:
        message = _("An activity cannot have happened in the future.")
        raise ValidationFailed(message, errors={"happened_at": [message]})
    with unit_of_work():
        records.get(user, spec, record_id, action="edit")
        activity = Activity(
            entity_key=spec.key, record_id=record_id, kind=kind, subject=text,
            outcome=result, notes=body, happened_at=happened_at or now, user_id=user.id,
            created_at=now,
        )  # fmt: skip
        db.session.add(activity)
        db.session.flush()
        activity_id = activity.id
    return activity_id


def _row(t: Task) -> TaskRow:
    return TaskRow(*(getattr(t, f) for f in TaskRow.__dataclass_fields__))


def open_tasks_of(spec: EntitySpec, record_id: int) -> list[TaskRow]:
    """Open tasks of a record the caller has just read with ``records.get`` (like
    ``records.timeline_of``: not checked again), soonest due first."""
    query = (
        select(Task)
        .where(Task.entity_key == spec.key, Task.record_id == record_id, Task.status == "open")
        .order_by(Task.due_date, Task.due_time, Task.id)
        .limit(200)
    )
    return [_row(t) for t in db.session.scalars(query)]


def timeline_entries(entity_key: str, record_id: int, limit: int) -> list[TimelineEntry]:
    """Logged activities and completed tasks of a record, as timeline entries (the caller
    has checked the read right)."""
    activities = db.session.scalars(
        select(Activity)
        .where(Activity.entity_key == entity_key, Activity.record_id == record_id)
        .order_by(Activity.happened_at.desc())
        .limit(limit)
    )
    out = [
        TimelineEntry(
            a.happened_at,
            "activity",
            a.user_id,
            body=a.notes,
            activity=a.kind,
            subject=a.subject,
            outcome=a.outcome,
        )
        for a in activities
    ]
    done = db.session.scalars(
        select(Task)
        .where(Task.entity_key == entity_key, Task.record_id == record_id, Task.status == "done")
        .order_by(Task.done_at.desc())
        .limit(limit)
    )
    out += [TimelineEntry(t.done_at, "task", t.done_by, body=t.subject) for t in done]
    return out


@dataclass(frozen=True)
class MyTasks:
    overdue: list[TaskRow]
    today: list[TaskRow]
    upcoming: list[TaskRow]
    names: dict[tuple[str, int], str]  # (entity key, record id) -> record name
    local_now: datetime  # the reader's wall-clock time (what "overdue" is measured by)
    editable: set[tuple[str, int]]  # the records whose tasks the reader may mark done


def is_overdue(task: TaskRow, local_now: datetime) -> bool:
    """Past its due day, or due today at a time gone by the reader's clock ``local_now``."""
    if task.due_date != local_now.date():
        return task.due_date < local_now.date()
    return task.due_time is not None and task.due_time < local_now.time()


def my_tasks(user: Any, zone: str, *, at: datetime | None = None, limit: int = 500) -> MyTasks:
    """The open tasks assigned to ``user`` on records they may still read, grouped by their
    due day in ``zone`` at ``at`` (naive UTC, default now): overdue, today, upcoming."""
    query = (
        select(Task)
        .where(Task.assignee_id == user.id, Task.status == "open")
        .order_by(Task.due_date, Task.due_time, Task.id)
        .limit(limit)
    )
    tasks = [_row(t) for t in db.session.scalars(query)]
    by_entity: dict[str, set[int]] = defaultdict(set)
    for t in tasks:
        by_entity[t.entity_key].add(t.record_id)
    names: dict[tuple[str, int], str] = {}
    editable: set[tuple[str, int]] = set()
    for key, ids in by_entity.items():
        if (spec := specs.current().entity(key)) is None:
            continue
        table = table_of(spec)
        wanted = table.c.id.in_(sorted(ids))
        for row in db.session.execute(scoped(user, spec, "read").where(wanted)).mappings():
            names[(key, row["id"])] = present.record_name(spec, row, user)
        may_edit = scoped(user, spec, "edit", columns=[table.c.id]).where(wanted)
        editable |= {(key, i) for i in db.session.scalars(may_edit)}
    now = to_local(at or utcnow(), zone)
    groups: dict[str, list[TaskRow]] = {"overdue": [], "today": [], "upcoming": []}
    for t in tasks:
        if (t.entity_key, t.record_id) not in names:
            continue  # a record they may no longer read: its tasks are not theirs to see
        day = "today" if t.due_date == now.date() else "upcoming"
        groups["overdue" if is_overdue(t, now) else day].append(t)
    return MyTasks(groups["overdue"], groups["today"], groups["upcoming"], names, now, editable)


@dataclass(frozen=True)
class NextSteps:
    """What a record page's "Next steps" block shows."""

    tasks: list[TaskRow]
    names: dict[int, str]  # assignee id -> name
    people: list[tuple[int, str, str]]  # who a task may be assigned to (when editable)
    local_now: datetime


def next_steps(
    user: Any, spec: EntitySpec, record_id: int, *, can_edit: bool, zone: str
) -> NextSteps:
    """The open tasks of a record the caller has just read, with the people a new task may
    be assigned to (only when ``can_edit``: nobody else sees the form)."""
    from crm.access import directory

    tasks = open_tasks_of(spec, record_id)
    names = directory.user_names({t.assignee_id for t in tasks} - {None})
    people = directory.active_people() if can_edit else []
    return NextSteps(tasks, names, people, to_local(utcnow(), zone))
