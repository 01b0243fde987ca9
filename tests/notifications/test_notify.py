"""Notifications: one per recipient, their text rendered as each may read the record; the
message templates' check (syntax, statements, calls, hidden fields) and sandbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.access import policy as P
from crm.extensions import db
from crm.metadata import specs
from crm.notifications import message
from crm.notifications import service as notifications
from crm.notifications.models import EmailChoice, MailMessage, Notification
from crm.records import service as records
from crm.schema import service as schema
from tests.factories import make_role, make_user


@pytest.fixture
def model(app):
    schema.create_entity(
        "deal",
        "Deal",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True},
            {"key": "amount", "type": "integer", "label": "Amount"},
            {"key": "margin", "type": "integer", "label": "Margin"},
        ],
        name_field="name",
    )
    return specs.current().entity("deal")


@pytest.fixture
def people(app, model):
    make_role("Sales", {"read": P.ALL, "edit": P.ALL, "create": P.ALL},
              {("deal", "margin"): P.HIDDEN}, entity="deal")  # fmt: skip
    make_role("Outsider", {"read": P.OWN}, entity="deal")
    return {
        "admin": make_user("boss@example.com", display_name="Boss", is_admin=True),
        "sales": make_user("sales@example.com", display_name="Sal", roles=("Sales",)),
        "out": make_user("out@example.com", display_name="Otto", roles=("Outsider",)),
    }


def _deal(user, **values):
    spec = specs.current().entity("deal")
    rid = records.create(user, spec, {"name": "Big deal", "amount": "1200", **values})
    return spec, records.get(user, spec, rid)


def _mine(user):
    db.session.rollback()
    return db.session.scalars(select(Notification).where(Notification.user_id == user.id)).all()


def test_each_recipient_sees_only_the_fields_they_may_read(people):
    spec, row = _deal(people["admin"], margin="300")
    sent = notifications.notify(
        [people["admin"].id, people["sales"].id, people["out"].id, people["sales"].id],
        kind="rule",
        title="{{ record_name }} won",
        body="Amount {{ record.amount }}, margin {{ record.margin }}",
        spec=spec,
        row=row,
    )
    assert sent == 3
    (boss,) = _mine(people["admin"])
    assert boss.title == "Big deal won"
    assert "1,200" in boss.body and "300" in boss.body
    (sal,) = _mine(people["sales"])
    assert "1,200" in sal.body and "300" not in sal.body and message.HIDDEN in sal.body
    (otto,) = _mine(people["out"])  # may not read the deal at all: nothing of it shown
    assert "Big deal" not in otto.title and "1,200" not in otto.body
    assert otto.record_id == row["id"]


def test_bell_counts_and_marks_read_only_ones_own(people):
    spec, row = _deal(people["admin"])
    notifications.notify([people["sales"].id], kind="rule", title="A", spec=spec, row=row)
    notifications.notify([people["sales"].id], kind="rule", title="B")
    notifications.notify([people["admin"].id], kind="rule", title="C")
    db.session.rollback()
    assert notifications.unread_count(people["sales"]) == 2
    bell = notifications.bell(people["sales"])
    assert [n.title for n in bell.entries] == ["B", "A"]
    theirs = _mine(people["admin"])[0]
    assert notifications.mark_read(people["sales"], theirs.id) is None
    assert notifications.mark_read(people["sales"], 2**40) is None
    assert notifications.mark_read(people["sales"], bell.entries[0].id) is not None
    assert notifications.unread_count(people["sales"]) == 1
    assert notifications.mark_all_read(people["sales"]) == 1
    assert notifications.unread_count(people["sales"]) == 0
    assert notifications.unread_count(people["admin"]) == 1


def test_email_follows_each_users_choice(people):
    db.session.add(EmailChoice(user_id=people["sales"].id, kind="rule", email=True))
    db.session.add(EmailChoice(user_id=people["admin"].id, kind="approval", email=False))
    db.session.commit()
    notifications.notify([people["sales"].id, people["admin"].id], kind="rule", title="Rule")
    notifications.notify([people["sales"].id, people["admin"].id], kind="approval", title="Ok?")
    db.session.rollback()
    sent = db.session.execute(select(MailMessage.to_address, MailMessage.subject)).all()
    assert sorted(sent) == [("sales@example.com", "Ok?"), ("sales@example.com", "Rule")]


@pytest.mark.parametrize(
    "text",
    [
        "{% for x in range(10) %}x{% endfor %}",
        "{{ record.__class__ }}x{{ ''.__class__.__mro__ }}",
        "{{ record.name.upper() }}",
        "{{ record.name|upper }}",
        "{{ config }}",
        "{{ record.name",
        "{{ self._TemplateReference__context }}",
    ],
)
def test_templates_that_could_run_code_are_refused(people, text):
    spec = specs.current().entity("deal")
    assert message.check(text, spec, people["admin"])
    # and even unchecked, rendering never runs them
    _spec, row = _deal(people["admin"])
    assert message.render(text, spec, row, people["admin"]) == text


def test_template_check_refuses_unknown_and_hidden_fields(people):
    spec = specs.current().entity("deal")
    assert message.check("{{ record.name }} {{ record['amount'] }}", spec, people["sales"]) == []
    (hidden,) = message.check("{{ record.margin }}", spec, people["sales"])
    assert "margin" in hidden
    (unknown,) = message.check("{{ record.nope }}", spec, people["admin"])
    assert "nope" in unknown
    assert message.check("{{ record.margin }}", spec, people["admin"]) == []


@pytest.mark.parametrize(
    "link", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "/a b", "x/y"]
)
def test_a_link_that_is_not_a_path_of_this_site_is_refused(people, link):
    with pytest.raises(ValueError):
        notifications.notify([people["sales"].id], kind="rule", title="A", link=link)
    db.session.rollback()
    assert _mine(people["sales"]) == []


def test_the_approval_requests_path_is_the_views_route(app):
    from flask import url_for

    from crm.approvals.service import REQUEST_PATH

    with app.test_request_context():
        assert url_for("approvals.request_page", request_id=7) == REQUEST_PATH.format(id=7)
