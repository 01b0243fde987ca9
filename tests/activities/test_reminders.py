"""Task reminders with a frozen clock: the moment worked out in the assignee's time zone
(their own, else the company's; 09:00 for a task without a time), the per-minute sweep
reminding once, not for done tasks nor records the assignee may no longer read; and the
"assigned to you" notice when someone else assigns a task."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from crm import i18n, timeutil
from crm.access import policy as P
from crm.activities import reminders
from crm.activities import service as activities
from crm.activities.models import Task
from crm.extensions import db
from crm.jobs import registry
from crm.metadata import specs
from crm.notifications.models import TASK_ASSIGNED, TASK_REMINDER, MailMessage, Notification
from crm.records import service as records
from crm.schema import service as schema
from crm.uow import unit_of_work
from tests.factories import make_role, make_user


@pytest.fixture
def people(app):
    schema.create_entity(
        "account",
        "Account",
        fields=[{"key": "name", "type": "text", "label": "Name", "required": True}],
        name_field="name",
    )
    make_role("Own", {"read": P.OWN, "edit": P.OWN, "create": P.ALL})
    staff = make_user("staff@example.com", display_name="Sam Staff")
    shanghai = make_user("li@example.com", display_name="Li", roles=("Own",))
    shanghai.timezone = "Asia/Shanghai"
    db.session.commit()
    return {"staff": staff, "li": shanghai,
            "plain": make_user("pat@example.com", display_name="Pat")}  # fmt: skip


def _account(user, name="Acme"):
    return records.create(user, specs.current().entity("account"), {"name": name})


def _task(tid):
    db.session.rollback()
    return db.session.get(Task, tid)


def _notes(user, kind=TASK_REMINDER):
    db.session.rollback()
    return db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
    ).all()


def test_the_moment_is_in_the_assignees_zone(people):
    li = people["li"]
    rid = _account(li)
    spec = specs.current().entity("account")
    with_time = activities.add_task(li, spec, rid, subject="Call back", due_date=date(2027, 3, 10),
                                    due_time=time(10, 0), remind_minutes=60)  # fmt: skip
    # Shanghai is UTC+8: 10:00 local is 02:00 UTC, an hour before is 01:00 UTC
    assert _task(with_time).remind_at == datetime(2027, 3, 10, 1, 0)
    no_time = activities.add_task(li, spec, rid, subject="Visit", due_date=date(2027, 3, 10),
                                  remind_minutes=1440)  # fmt: skip
    # no time: due 09:00 local (01:00 UTC); a day before
    assert _task(no_time).remind_at == datetime(2027, 3, 9, 1, 0)
    none = activities.add_task(li, spec, rid, subject="Later", due_date=date(2027, 3, 10))
    assert _task(none).remind_at is None and _task(none).remind_minutes is None


def test_without_a_zone_of_their_own_the_company_zone_counts(people):
    with unit_of_work():
        i18n.set_company_defaults(locale="en", timezone="America/New_York")
    staff = people["staff"]
    rid = _account(staff)
    spec = specs.current().entity("account")
    # 15 July: New York is UTC-4
    tid = activities.add_task(staff, spec, rid, subject="Call", due_date=date(2027, 7, 15),
                              due_time=time(9, 30), remind_minutes=15)  # fmt: skip
    assert _task(tid).remind_at == datetime(2027, 7, 15, 13, 15)


def test_a_bad_reminder_choice_is_refused(people, login_as):
    staff = people["staff"]
    rid = _account(staff)
    client = login_as(staff)
    for bad in ("7", "-15", "abc", "99999999999"):
        form = {"subject": "x", "due_date": "2027-01-05", "remind_minutes": bad}
        r = client.hx_post(f"/r/account/{rid}/tasks", form)
        assert r.status_code == 400 and b"Choose when to be reminded." in r.data
    db.session.rollback()
    assert db.session.scalar(select(Task.id)) is None


def test_the_sweep_reminds_once_when_the_moment_comes(people, login_as, monkeypatch):
    li = people["li"]
    rid = _account(li)
    client = login_as(li)
    r = client.hx_post(f"/r/account/{rid}/tasks", {"subject": "Send the offer",
                       "due_date": "2027-03-10", "due_time": "10:00", "remind_minutes": "60",
                       "assignee_id": str(li.id)})  # fmt: skip
    assert r.status_code == 200
    assert "reminder 1 hour before" in r.get_data(as_text=True)
    (task,) = db.session.scalars(select(Task)).all()
    assert task.remind_at == datetime(2027, 3, 10, 1, 0)
    monkeypatch.setattr(timeutil, "utcnow", lambda: datetime(2027, 3, 10, 0, 59))
    registry.run_periodic("crm.activities.reminders:send_due")  # what the queue runs
    assert _notes(li) == []
    monkeypatch.setattr(timeutil, "utcnow", lambda: datetime(2027, 3, 10, 1, 0))
    registry.run_periodic("crm.activities.reminders:send_due")
    (note,) = _notes(li)
    assert note.title == "Reminder: Send the offer"
    assert note.entity_key == "account" and note.record_id == rid
    assert note.body.startswith("Acme · Due ") and "10:00" in note.body
    assert _task(task.id).reminded_at == datetime(2027, 3, 10, 1, 0)
    # reminders come by e-mail by default
    assert db.session.scalars(select(MailMessage.subject)).all() == ["Reminder: Send the offer"]
    monkeypatch.setattr(timeutil, "utcnow", lambda: datetime(2027, 3, 10, 1, 1))
    registry.run_periodic("crm.activities.reminders:send_due")
    assert len(_notes(li)) == 1  # once, not every minute after
    # the bell links to the task's record
    page = client.get("/notifications/").get_data(as_text=True)
    assert f'href="/notifications/{note.id}/open"' in page


def test_done_tasks_and_unreadable_records_are_not_reminded(people):
    li, staff = people["li"], people["staff"]
    spec = specs.current().entity("account")
    mine = _account(li, "Li's")
    theirs = _account(staff, "Staff's")
    done = activities.add_task(li, spec, mine, subject="Done already", due_date=date(2027, 1, 5),
                               remind_minutes=0)  # fmt: skip
    activities.set_done(li, done)
    # staff assigns Li a task on a record Li may not read (Li reads only her own)
    hidden = activities.add_task(staff, spec, theirs, subject="Secret", due_date=date(2027, 1, 5),
                                 remind_minutes=0, assignee_id=li.id)  # fmt: skip
    assert _notes(li, TASK_ASSIGNED) == []  # nor told of it
    sent = reminders.send_due(datetime(2027, 1, 6))
    assert sent == 0 and _notes(li) == []
    assert _task(hidden).reminded_at is not None  # dealt with: not looked at again
    assert _task(done).reminded_at is None


def test_the_sweep_works_in_batches(people):
    staff = people["staff"]
    spec = specs.current().entity("account")
    rid = _account(staff)
    for i in range(5):
        activities.add_task(staff, spec, rid, subject=f"T{i}", due_date=date(2027, 1, 5),
                            remind_minutes=0)  # fmt: skip
    assert reminders.send_due(datetime(2027, 1, 6), batch=2) == 5
    assert sorted(n.title for n in _notes(staff)) == [f"Reminder: T{i}" for i in range(5)]


def test_the_sweep_is_one_indexed_query():
    sql = str(reminders.due_query(datetime(2027, 1, 1)))
    assert "tasks.status" in sql and "tasks.reminded_at IS NULL" in sql
    assert "tasks.remind_at <=" in sql
    index = {i.name: [c.name for c in i.columns] for i in Task.__table__.indexes}
    assert index["ix_tasks_remind"] == ["status", "reminded_at", "remind_at"]


def test_assigning_someone_else_notifies_them(people, login_as):
    staff, pat = people["staff"], people["plain"]
    rid = _account(staff, "Acme")
    client = login_as(staff)
    r = client.hx_post(f"/r/account/{rid}/tasks", {"subject": "Prepare {{ record.name }}",
                       "due_date": "2027-02-01", "assignee_id": str(pat.id)})  # fmt: skip
    assert r.status_code == 200
    (note,) = _notes(pat, TASK_ASSIGNED)
    # the subject is quoted as typed, never run as a template
    assert note.title == "Sam Staff assigned you a task: Prepare {{ record.name }}"
    assert note.record_id == rid and note.actor_id == staff.id
    assert note.body.startswith("Acme · Due ")
    # one's own task: no notice
    client.hx_post(f"/r/account/{rid}/tasks", {"subject": "Mine", "due_date": "2027-02-01"})
    assert _notes(staff, TASK_ASSIGNED) == []
