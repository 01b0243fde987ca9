"""Tasks and logged activities: the services, the record page's "Next steps", the timeline,
"My tasks", and the record's access policy on every one of them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from crm.access import policy as P
from crm.activities import service as activities
from crm.activities.models import Activity, Task
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from crm.schema import service as schema
from crm.timeutil import utcnow
from tests.factories import make_role, make_user


@pytest.fixture
def model(app):
    schema.create_entity(
        "account",
        "Account",
        fields=[{"key": "name", "type": "text", "label": "Name", "required": True}],
        name_field="name",
    )
    return specs.current().entity("account")


@pytest.fixture
def people(app, model):
    """``staff`` (Staff role: every right), ``reader`` (reads every account, edits none),
    ``own`` (reads and edits only their own accounts)."""
    make_role("Reader", {"read": P.ALL})
    make_role("Own", {"read": P.OWN, "edit": P.OWN, "create": P.ALL})
    return {
        "staff": make_user("staff@example.com", display_name="Sam Staff"),
        "reader": make_user("reader@example.com", display_name="Rita Reader", roles=("Reader",)),
        "own": make_user("own@example.com", display_name="Olga Own", roles=("Own",)),
    }


def account(user, name="Acme"):
    return records.create(user, specs.current().entity("account"), {"name": name})


def task_row(task_id):
    db.session.rollback()
    return db.session.get(Task, task_id)


def count(model_cls):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model_cls))


TOMORROW = date.today() + timedelta(days=2)


def test_add_complete_reopen_delete(model, people):
    staff = people["staff"]
    acc = account(staff)
    tid = activities.add_task(
        staff, model, acc, subject=" Call back ", due_date=TOMORROW, due_time=time(9, 30),
        priority="high",
    )  # fmt: skip
    t = task_row(tid)
    assert (t.subject, t.status, t.assignee_id, t.created_by) == (
        "Call back", "open", staff.id, staff.id,
    )  # fmt: skip
    assert [x.id for x in activities.open_tasks_of(model, acc)] == [tid]
    activities.set_done(staff, tid)
    t = task_row(tid)
    assert t.status == "done" and t.done_at is not None and t.done_by == staff.id
    assert activities.open_tasks_of(model, acc) == []
    entries = records.timeline(staff, model, acc)
    assert any(e.kind == "task" and e.body == "Call back" for e in entries)
    activities.set_done(staff, tid, False)
    assert task_row(tid).status == "open" and task_row(tid).done_at is None
    activities.delete_task(staff, tid)
    assert task_row(tid) is None


def test_bad_task_input_is_refused_by_field(model, people):
    staff = people["staff"]
    acc = account(staff)
    inactive = make_user("gone@example.com", is_active=False)
    cases = [
        ({"subject": "  ", "due_date": TOMORROW}, "subject"),
        ({"subject": "x" * 201, "due_date": TOMORROW}, "subject"),
        ({"subject": "A", "due_date": None}, "due_date"),
        ({"subject": "A", "due_date": TOMORROW, "priority": "urgent"}, "priority"),
        ({"subject": "A", "due_date": TOMORROW, "assignee_id": inactive.id}, "assignee_id"),
        ({"subject": "A", "due_date": TOMORROW, "assignee_id": 2**40}, "assignee_id"),
    ]
    for kwargs, key in cases:
        with pytest.raises(ValidationFailed) as exc:
            activities.add_task(staff, model, acc, **kwargs)
        assert key in exc.value.errors
    assert count(Task) == 0


def test_log_activity_shows_on_the_timeline(model, people):
    staff = people["staff"]
    acc = account(staff)
    activities.log_activity(
        staff, model, acc, kind="call", subject="Intro call", outcome="Interested",
        notes="Wants a demo",
    )  # fmt: skip
    (entry,) = [e for e in records.timeline(staff, model, acc) if e.kind == "activity"]
    assert (entry.activity, entry.subject, entry.outcome, entry.body) == (
        "call", "Intro call", "Interested", "Wants a demo",
    )  # fmt: skip
    with pytest.raises(ValidationFailed) as exc:
        activities.log_activity(staff, model, acc, kind="fax", subject="x")
    assert "kind" in exc.value.errors
    with pytest.raises(ValidationFailed) as exc:
        future = utcnow() + timedelta(days=1)
        activities.log_activity(staff, model, acc, kind="visit", subject="x", happened_at=future)
    assert "happened_at" in exc.value.errors
    assert count(Activity) == 1


def test_access_follows_the_record(model, people):
    staff, reader, own = people["staff"], people["reader"], people["own"]
    theirs = account(staff, "Staff's")
    tid = activities.add_task(staff, model, theirs, subject="Follow up", due_date=TOMORROW)
    # may read, may not edit: no task, no activity, no completing
    with pytest.raises(NotFound):
        activities.add_task(reader, model, theirs, subject="Mine", due_date=TOMORROW)
    with pytest.raises(NotFound):
        activities.log_activity(reader, model, theirs, kind="call", subject="x")
    with pytest.raises(NotFound):
        activities.set_done(reader, tid)
    with pytest.raises(NotFound):
        activities.delete_task(reader, tid)
    # may not even read it
    with pytest.raises(NotFound):
        activities.add_task(own, model, theirs, subject="Mine", due_date=TOMORROW)
    with pytest.raises(NotFound):
        activities.set_done(own, tid)
    assert task_row(tid).status == "open" and count(Task) == 1 and count(Activity) == 0
    # hostile ids
    for bad in (0, -1, 2**31, 2**63 - 1):
        with pytest.raises(NotFound):
            activities.set_done(staff, bad)


def test_my_tasks_groups_and_hides_records_no_longer_readable(model, people):
    staff, own = people["staff"], people["own"]
    mine = account(own, "Own account")
    shared = account(staff, "Staff account")
    today = date.today()
    late = activities.add_task(own, model, mine, subject="Late", due_date=today - timedelta(1))
    now = activities.add_task(own, model, mine, subject="Now", due_date=today)
    soon = activities.add_task(own, model, mine, subject="Soon", due_date=today + timedelta(9))
    # staff assigns a task to "own" on a record "own" cannot read: never listed for them
    activities.add_task(staff, model, shared, subject="Hidden", due_date=today, assignee_id=own.id)
    got = activities.my_tasks(own, "UTC")
    assert [t.id for t in got.overdue] == [late]
    assert [t.id for t in got.today] == [now]
    assert [t.id for t in got.upcoming] == [soon]
    assert got.names[("account", mine)] == "Own account"
    # the record goes to someone else: its tasks leave "My tasks"
    table = records.table_of(model)
    db.session.execute(table.update().where(table.c.id == mine).values(owner_id=staff.id))
    db.session.commit()
    P.forget()
    got = activities.my_tasks(own, "UTC")
    assert got.overdue == got.today == got.upcoming == []


def test_overdue_counts_the_time_of_day():
    row = activities.TaskRow(1, "a", 1, "s", date(2026, 3, 1), time(9, 0), "normal", None)
    assert activities.is_overdue(row, datetime(2026, 3, 1, 9, 1))
    assert not activities.is_overdue(row, datetime(2026, 3, 1, 8, 59))
    assert not activities.is_overdue(row, datetime(2026, 2, 28, 23, 0))
    assert activities.is_overdue(row, datetime(2026, 3, 2, 0, 0))


# --- pages -----------------------------------------------------------------------------------


def test_record_page_add_task_done_and_my_tasks(login_as, model, people):
    staff = people["staff"]
    acc = account(staff)
    client = login_as(staff)
    page = client.get(f"/r/account/{acc}").data.decode()
    assert "Next steps" in page and f'action="/r/account/{acc}/tasks"' in page
    r = client.hx_post(
        f"/r/account/{acc}/tasks",
        {"subject": "<b>Send offer</b>", "due_date": (date.today() - timedelta(1)).isoformat(),
         "due_time": "10:00", "priority": "high", "assignee_id": str(staff.id)},
    )  # fmt: skip
    body = r.data.decode()
    assert r.status_code == 200 and "<html" not in body and "HX-Request" in r.headers["Vary"]
    assert "&lt;b&gt;Send offer&lt;/b&gt;" in body and "task-overdue" in body
    (tid,) = db.session.scalars(select(Task.id))
    mine = client.get("/tasks/").data.decode()
    assert "Overdue" in mine and f'href="/r/account/{acc}"' in mine and 'href="/tasks/"' in mine
    # Done on the record page: the row goes, and the timeline (which shows it done) comes
    # back out of band; from "My tasks" nothing comes back
    done = client.hx_post(f"/tasks/{tid}/done", {"back": "record"})
    body = done.data.decode()
    assert done.status_code == 200 and "<html" not in body
    assert 'id="timeline"' in body and 'hx-swap-oob="true"' in body
    assert "completed the task" in body and "&lt;b&gt;Send offer&lt;/b&gt;" in body
    assert task_row(tid).status == "done"
    client.hx_post(f"/tasks/{tid}/reopen", {"back": "mine"})
    assert client.hx_post(f"/tasks/{tid}/done", {"back": "mine"}).data == b""
    assert "&lt;b&gt;Send offer&lt;/b&gt;" not in client.get("/tasks/").data.decode()
    page = client.get(f"/r/account/{acc}").data.decode()
    assert "completed the task" in page
    bad = client.hx_post(f"/r/account/{acc}/tasks", {"subject": "x", "due_date": "31/12/2026"})
    assert bad.status_code == 400 and "2026-12-31" in bad.data.decode()


def test_log_activity_form(login_as, model, people):
    staff = people["staff"]
    acc = account(staff)
    client = login_as(staff)
    r = client.submit(
        f"/r/account/{acc}/activities",
        {"kind": "meeting", "subject": "Kick-off", "outcome": "Signed", "notes": "Next: invoice"},
    )
    assert r.status_code == 303
    page = client.get(f"/r/account/{acc}").data.decode()
    assert "logged a meeting" in page and "Kick-off" in page and "Next: invoice" in page


def test_reader_sees_tasks_but_no_form_and_cannot_post(login_as, model, people):
    staff, reader, own = people["staff"], people["reader"], people["own"]
    acc = account(staff)
    tid = activities.add_task(staff, model, acc, subject="Visible task", due_date=TOMORROW)
    client = login_as(reader)
    page = client.get(f"/r/account/{acc}").data.decode()
    assert "Visible task" in page
    assert f'action="/r/account/{acc}/tasks"' not in page and f"/tasks/{tid}/done" not in page
    assert client.submit(f"/r/account/{acc}/tasks", {"subject": "x", "due_date": "2030-01-01"}
                         ).status_code == 404  # fmt: skip
    assert client.hx_post(f"/tasks/{tid}/done").status_code == 404
    assert client.submit(f"/r/account/{acc}/activities",
                         {"kind": "call", "subject": "x"}).status_code == 404  # fmt: skip
    stranger = login_as(own)
    assert stranger.get(f"/r/account/{acc}").status_code == 404
    assert stranger.hx_post(f"/tasks/{tid}/delete").status_code == 404
    assert task_row(tid).status == "open" and count(Task) == 1 and count(Activity) == 0


def test_csrf_and_hostile_ids(login_as, model, people):
    staff = people["staff"]
    acc = account(staff)
    tid = activities.add_task(staff, model, acc, subject="Guarded", due_date=TOMORROW)
    client = login_as(staff)
    client.get("/tasks/")
    assert client.post(f"/tasks/{tid}/done").status_code == 400  # no token
    assert client.post(f"/r/account/{acc}/tasks", data={"subject": "x"}).status_code == 400
    assert task_row(tid).status == "open" and count(Task) == 1
    for bad in ("0", "2147483648", "9223372036854775807", "99999999999999999999", "-1"):
        assert client.hx_post(f"/tasks/{bad}/done").status_code == 404
        assert client.hx_post(f"/r/account/{bad}/tasks", {"subject": "x"}).status_code in (404,)
    r = client.hx_post(
        f"/r/account/{acc}/tasks",
        {"subject": "x", "due_date": "2030-01-01", "assignee_id": "99999999999999999999"},
    )
    assert r.status_code == 400 and count(Task) == 1


def test_my_tasks_days_are_the_readers_days(model, people):
    """20:00 UTC on 1 March is already 2 March in Tokyo: a task due on 2 March is "today"
    there and "upcoming" in UTC; one due on 1 March is overdue in Tokyo only."""
    own = people["own"]
    acc = account(own)
    march2 = activities.add_task(own, model, acc, subject="A", due_date=date(2026, 3, 2))
    march1 = activities.add_task(own, model, acc, subject="B", due_date=date(2026, 3, 1))
    at = datetime(2026, 3, 1, 20, 0)
    tokyo = activities.my_tasks(own, "Asia/Tokyo", at=at)
    utc = activities.my_tasks(own, "UTC", at=at)
    assert [t.id for t in tokyo.today] == [march2] and [t.id for t in tokyo.overdue] == [march1]
    assert [t.id for t in utc.upcoming] == [march2] and [t.id for t in utc.today] == [march1]


def test_activity_on_a_day_without_a_time_is_never_in_the_future(login_as, model, people):
    staff = people["staff"]
    acc = account(staff)
    client = login_as(staff)
    today = date.today().isoformat()
    client.submit(f"/r/account/{acc}/activities", {"kind": "visit", "subject": "On site",
                                                   "happened_on": today})  # fmt: skip
    db.session.rollback()
    (happened,) = db.session.scalars(select(Activity.happened_at))
    assert happened.date() == date.today() and happened <= utcnow()


def test_my_tasks_offers_done_only_where_the_reader_may_edit(login_as, model, people):
    staff, reader = people["staff"], people["reader"]
    acc = account(staff)
    tid = activities.add_task(
        staff, model, acc, subject="Read-only task", due_date=TOMORROW, assignee_id=reader.id
    )
    page = login_as(reader).get("/tasks/").data.decode()
    assert "Read-only task" in page and f"/tasks/{tid}/done" not in page
    page = login_as(staff).get(f"/r/account/{acc}").data.decode()
    assert f"/tasks/{tid}/done" in page


def test_a_task_is_changed_its_reminder_worked_out_again_and_a_new_assignee_told(
    model, people, login_as
):
    from crm.notifications.models import Notification

    staff, own = people["staff"], people["reader"]  # Rita reads the account: she is told
    acc = account(staff)
    tid = activities.add_task(staff, model, acc, subject="Call", due_date=TOMORROW,
                              remind_minutes=60)  # fmt: skip
    first = task_row(tid).remind_at
    db.session.execute(
        Task.__table__.update().where(Task.id == tid).values(reminded_at=utcnow())
    )  # the reminder went out
    db.session.commit()
    later = TOMORROW + timedelta(days=3)
    client = login_as(staff)
    r = client.hx_post(f"/tasks/{tid}/edit", {
        "subject": "Call back", "due_date": later.isoformat(), "due_time": "15:30",
        "priority": "high", "remind_minutes": "15", "assignee_id": str(own.id),
    })  # fmt: skip
    assert r.status_code == 200 and 'id="next-steps"' in r.data.decode()
    t = task_row(tid)
    assert (t.subject, t.due_date, t.due_time, t.priority) == (
        "Call back",
        later,
        time(15, 30),
        "high",
    )
    assert t.assignee_id == own.id and t.remind_minutes == 15
    assert t.reminded_at is None and t.remind_at is not None and t.remind_at > first
    told = db.session.scalars(select(Notification).where(Notification.user_id == own.id)).all()
    assert [n.kind for n in told] == ["task_assigned"]
    # refused: the problem in the block, nothing changed
    bad = client.hx_post(f"/tasks/{tid}/edit", {"subject": "", "due_date": later.isoformat()})
    assert bad.status_code == 400 and "Call back" in bad.data.decode()
    assert task_row(tid).subject == "Call back"


def test_only_who_may_edit_the_record_changes_its_task(model, people, login_as):
    staff = people["staff"]
    acc = account(staff)
    tid = activities.add_task(staff, model, acc, subject="Call", due_date=TOMORROW)
    form = {"subject": "Mine now", "due_date": TOMORROW.isoformat()}
    for who in ("reader", "own"):
        assert login_as(people[who]).hx_post(f"/tasks/{tid}/edit", form).status_code == 404
    assert login_as(staff).hx_post(f"/tasks/{2**40}/edit", form).status_code == 404
    assert task_row(tid).subject == "Call"
    page = login_as(staff).get(f"/r/account/{acc}").data.decode()
    assert f'action="/tasks/{tid}/edit"' in page
    assert (
        f'action="/tasks/{tid}/edit"'
        not in login_as(people["reader"]).get(f"/r/account/{acc}").data.decode()
    )
