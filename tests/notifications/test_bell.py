"""The bell: its unread count in every page's frame (one COUNT), the list (newest first,
load more), marking one or all read (htmx: the entry and the badge), opening one (read,
then its record), another user's notification a 404; the e-mail choices page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from crm.extensions import db
from crm.metadata import specs
from crm.notifications import service as notifications
from crm.notifications.models import KINDS, EmailChoice, MailMessage, Notification
from crm.records import service as records
from crm.schema import service as schema
from tests.factories import make_user


@pytest.fixture
def people(app):
    schema.create_entity(
        "deal",
        "Deal",
        fields=[{"key": "name", "type": "text", "label": "Name", "required": True}],
        name_field="name",
    )
    return {
        "ann": make_user("ann@example.com", display_name="Ann", is_admin=True),
        "bob": make_user("bob@example.com", display_name="Bob", is_admin=True),
    }


def _deal(user, name="Big deal"):
    spec = specs.current().entity("deal")
    rid = records.create(user, spec, {"name": name})
    return spec, records.get(user, spec, rid)


def _note(user, title, **kw):
    notifications.notify([user.id], kind="rule", title=title, **kw)
    db.session.commit()
    return db.session.scalar(
        select(Notification.id).where(Notification.user_id == user.id).order_by(
            Notification.id.desc())
    )  # fmt: skip


def _read_at(nid):
    db.session.rollback()
    return db.session.get(Notification, nid).read_at


def _badge(html: str) -> str | None:
    m = re.search(r'<span id="bell-count" class="bell-count"( hidden)?>([^<]*)</span>', html)
    return None if m is None or m.group(1) else m.group(2)


def test_the_frame_shows_the_unread_count_with_one_count_query(people, login_as):
    ann = people["ann"]
    _note(ann, "first")
    _note(ann, "second")
    client = login_as(ann)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        html = client.get("/").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert _badge(html) == "2"
    assert len([s for s in statements if "FROM notifications" in s]) == 1
    bob = login_as(people["bob"])
    assert _badge(bob.get("/").get_data(as_text=True)) is None  # none unread: no badge


def test_list_newest_first_with_links_and_load_more(people, login_as):
    ann = people["ann"]
    spec, row = _deal(ann)
    linked = _note(ann, "About {{ record_name }}", spec=spec, row=row)
    for i in range(notifications.PAGE + 2):
        _note(ann, f"plain {i}")
    client = login_as(ann)
    html = client.get("/notifications/").get_data(as_text=True)
    ids = [int(x) for x in re.findall(r'id="notification-(\d+)"', html)]
    assert len(ids) == notifications.PAGE and ids == sorted(ids, reverse=True)
    assert f"plain {notifications.PAGE + 1}" in html and "Unread" in html
    more = re.search(r'hx-get="(/notifications/\?before=\d+)"', html).group(1)
    rest = client.hx_get(more.replace("&amp;", "&"))
    assert rest.status_code == 200 and b"<html" not in rest.data
    older = [int(x) for x in re.findall(r'id="notification-(\d+)"', rest.get_data(as_text=True))]
    assert linked in older and max(older) < min(ids)
    assert f'href="/notifications/{linked}/open"'.encode() in rest.data
    assert b"About Big deal" in rest.data
    assert client.get("/notifications/?before=abc").status_code == 404
    assert client.get("/notifications/?before=99999999999999999999").status_code == 404
    assert client.get("/notifications/?before=9223372036854775807").status_code == 200


def test_mark_read_htmx_swaps_the_entry_and_the_badge(people, login_as):
    ann = people["ann"]
    one, two = _note(ann, "one"), _note(ann, "two")
    client = login_as(ann)
    r = client.hx_post(f"/notifications/{one}/read")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert f'id="notification-{one}"' in body and "Mark read" not in body
    assert 'id="bell-count" class="bell-count" hx-swap-oob="true">1<' in body
    assert _read_at(one) is not None and _read_at(two) is None
    # a plain form: back to the list
    r = client.submit(f"/notifications/{two}/read")
    assert r.status_code == 303 and _read_at(two) is not None


def test_mark_all_read(people, login_as):
    ann, bob = people["ann"], people["bob"]
    mine = [_note(ann, "a"), _note(ann, "b")]
    theirs = _note(bob, "c")
    r = login_as(ann).submit("/notifications/read-all")
    assert r.status_code == 303
    assert all(_read_at(n) is not None for n in mine) and _read_at(theirs) is None


def test_another_users_notification_is_not_found(people, login_as):
    theirs = _note(people["bob"], "for Bob")
    client = login_as(people["ann"])
    assert client.hx_post(f"/notifications/{theirs}/read").status_code == 404
    assert client.submit(f"/notifications/{theirs}/read").status_code == 404
    assert client.get(f"/notifications/{theirs}/open").status_code == 404
    assert client.get("/notifications/2147483648/open").status_code == 404
    assert _read_at(theirs) is None
    assert b"for Bob" not in client.get("/notifications/").data


def test_opening_marks_read_and_goes_to_the_record(people, login_as):
    ann = people["ann"]
    spec, row = _deal(ann)
    linked = _note(ann, "deal", spec=spec, row=row)
    plain = _note(ann, "plain")
    client = login_as(ann)
    r = client.get(f"/notifications/{linked}/open")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/r/deal/{row['id']}")
    assert _read_at(linked) is not None
    r = client.get(f"/notifications/{plain}/open")
    assert r.status_code == 303 and r.headers["Location"].endswith("/notifications/")
    assert _read_at(plain) is not None


def test_signed_out_is_sent_to_sign_in(people, client):
    assert client.get("/notifications/").status_code in (302, 401)


def test_email_choices_are_saved_and_honoured(people, login_as):
    ann = people["ann"]
    client = login_as(ann)
    page = client.get("/account/notifications").get_data(as_text=True)
    for kind in KINDS:
        assert f'value="{kind}"' in page
    # the defaults: reminders and approvals by e-mail
    assert re.search(r'value="task_reminder" checked', page)
    assert not re.search(r'value="rule" checked', page)
    r = client.submit("/account/notifications", {"email": ["rule", "task_assigned", "bogus"]})
    assert r.status_code == 303
    db.session.rollback()
    rows = dict(
        db.session.execute(
            select(EmailChoice.kind, EmailChoice.email).where(EmailChoice.user_id == ann.id)
        ).all()
    )
    assert rows == {k: k in ("rule", "task_assigned") for k in KINDS}
    page = client.get("/account/notifications").get_data(as_text=True)
    assert re.search(r'value="rule" checked', page)
    assert not re.search(r'value="task_reminder" checked', page)
    notifications.notify([ann.id], kind="rule", title="by mail")
    notifications.notify([ann.id], kind="task_reminder", title="bell only")
    db.session.commit()
    subjects = db.session.scalars(select(MailMessage.subject)).all()
    assert subjects == ["by mail"]


def test_email_choices_need_the_csrf_token(people, login_as):
    client = login_as(people["ann"])
    r = client.post("/account/notifications", data={"email": ["rule"]})
    assert r.status_code == 400
    db.session.rollback()
    assert db.session.scalar(select(EmailChoice.kind)) is None
