"""E-mail: kept without a mail server; sent over SMTP to a local test server (aiosmtpd on
127.0.0.1) once the configuration area names one, To/Subject/Body as written; a server
that refuses marks the message failed after its retries; the password is write-only;
the test e-mail; the outbox page is for full administrators only."""

from __future__ import annotations

import email
import socket
import time
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crm.auth.models import AppSetting
from crm.extensions import db
from crm.jobs import runner
from crm.jobs.models import Job
from crm.notifications import mail, smtp
from crm.notifications import service as notifications
from crm.notifications.models import FAILED, KEPT, QUEUED, SENT, MailMessage
from crm.uow import unit_of_work
from tests.factories import make_role, make_user


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message, or refuses each with ``refuse``."""

    def __init__(self, refuse: str | None = None):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        self.envelopes.append(envelope)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email_policy.default)
        )
        return "250 OK"


def _server(handler: Inbox):
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    return controller


@pytest.fixture
def inbox(app):
    handler = Inbox()
    controller = _server(handler)
    app.config["MAIL_RETRY_SECONDS"] = 0
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def refusing(app):
    handler = Inbox(refuse="451 4.3.0 Try again later")
    controller = _server(handler)
    app.config["MAIL_RETRY_SECONDS"] = 0
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def people(app):
    make_role("Designer", {}, can_configure=True)
    return {
        "admin": make_user("admin@example.com", display_name="Ada Admin", is_admin=True),
        "designer": make_user("des@example.com", display_name="Dee", roles=("Designer",)),
        "staff": make_user("staff@example.com", display_name="Sam Staff"),
    }


def _configure(client, port: int, **extra):
    form = {"host": "127.0.0.1", "port": str(port), "security": "none", "user": "",
            "password": "", "from_address": "crm@example.com", **extra}  # fmt: skip
    return client.submit("/admin/mail/settings/", form)


def _outbox():
    db.session.rollback()
    return db.session.scalars(select(MailMessage).order_by(MailMessage.id)).all()


def test_without_a_host_messages_are_kept(people):
    notifications.notify([people["admin"].id], kind="approval", title="Approve this")
    db.session.commit()
    (entry,) = _outbox()
    assert entry.status == KEPT and entry.to_address == "admin@example.com"
    assert entry.attempts == 0


def test_with_a_host_the_message_is_sent_over_smtp(people, login_as, inbox):
    handler, port = inbox
    admin = people["admin"]
    r = _configure(login_as(admin), port)
    assert r.status_code == 303, r.get_data(as_text=True)
    with unit_of_work():
        notifications.notify(
            [people["staff"].id], kind="approval", title="Approve the discount",
            body="Deal Acme waits for your approval.\nSecond line.",
        )  # fmt: skip
    (entry,) = _outbox()
    assert entry.status == SENT and entry.attempts == 1 and entry.sent_at is not None
    (msg,) = handler.messages
    assert msg["To"] == "staff@example.com"
    assert msg["From"] == "crm@example.com"
    assert msg["Subject"] == "Approve the discount"
    assert (
        msg.get_content().replace("\r\n", "\n").strip()
        == "Deal Acme waits for your approval.\nSecond line."
    )
    assert handler.envelopes[0].rcpt_tos == ["staff@example.com"]


def _waiting_mail_jobs() -> list[Job]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(Job).where(Job.kind == "mail.send", Job.status == "queued").order_by(Job.id)
        )
    )


def test_a_refusing_server_is_tried_again_later_then_marked_failed(people, refusing, app):
    """Each try is a job of its own; a failed one queues the next as a job that waits (a
    minute, then two): no worker sleeps between tries, no transaction stays open."""
    handler, port = refusing
    app.config.update(MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_SECONDS=60)
    smtp.save(people["admin"], host="127.0.0.1", port=port, security="none", user="",
              password=None, from_address="crm@example.com")  # fmt: skip
    start = time.time()
    with unit_of_work():
        mail.send(people["staff"], "Hello", "Body")
    (entry,) = _outbox()
    assert (entry.status, entry.attempts) == (QUEUED, 1) and "451" in entry.error
    [job] = _waiting_mail_jobs()
    assert job.run_after is not None
    runner.sweep(now=start + 30)  # not before its time
    assert _outbox()[0].attempts == 1
    runner.sweep(now=start + 61)
    (entry,) = _outbox()
    assert (entry.status, entry.attempts) == (QUEUED, 2)
    assert len(_waiting_mail_jobs()) == 1
    runner.sweep(now=start + 61 + 30)  # the second pause is twice the first
    assert _outbox()[0].attempts == 2
    runner.sweep(now=start + 61 + 121)
    (entry,) = _outbox()
    assert (entry.status, entry.attempts) == (FAILED, 3)
    assert "451" in entry.error and entry.sent_at is None
    assert handler.messages == [] and _waiting_mail_jobs() == []


def test_a_server_that_recovers_gets_the_message_on_the_next_try(people, refusing, app):
    handler, port = refusing
    app.config.update(MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_SECONDS=60)
    smtp.save(people["admin"], host="127.0.0.1", port=port, security="none", user="",
              password=None, from_address="crm@example.com")  # fmt: skip
    start = time.time()
    with unit_of_work():
        mail.send(people["staff"], "Hello", "Body")
    assert _outbox()[0].status == QUEUED
    handler.refuse = None
    runner.sweep(now=start + 61)
    (entry,) = _outbox()
    assert (entry.status, entry.attempts, entry.error) == (SENT, 2, None)
    assert [m["Subject"] for m in handler.messages] == ["Hello"]
    assert _waiting_mail_jobs() == []


def test_an_unreachable_server_fails_too(people, app):
    app.config["MAIL_RETRY_SECONDS"] = 0
    smtp.save(people["admin"], host="127.0.0.1", port=_free_port(), security="none", user="",
              password=None, from_address="crm@example.com")  # fmt: skip
    with unit_of_work():
        mail.send(people["staff"], "Hello", "Body")
    (entry,) = _outbox()
    assert entry.status == FAILED and "Connection" in entry.error


def test_the_password_is_write_only(people, login_as, inbox):
    _handler, port = inbox
    client = login_as(people["admin"])
    assert _configure(client, port, user="mailer", password="s3cret-Pa55").status_code == 303
    page = client.get("/admin/mail/settings/").get_data(as_text=True)
    assert "s3cret-Pa55" not in page and "A password is stored" in page
    # saving again with the field empty keeps it
    assert _configure(client, port, user="mailer").status_code == 303
    db.session.rollback()
    assert db.session.get(AppSetting, "smtp_password").value == "s3cret-Pa55"
    assert _configure(client, port, user="mailer", clear_password="y").status_code == 303
    db.session.rollback()
    assert db.session.get(AppSetting, "smtp_password") is None


def test_bad_settings_are_refused_and_change_nothing(people, login_as):
    client = login_as(people["admin"])
    r = client.submit("/admin/mail/settings/", {"host": "bad host!", "port": "70000",
                      "security": "tls13", "from_address": "nobody"})  # fmt: skip
    assert r.status_code == 400
    r = client.submit("/admin/mail/settings/", {"host": "smtp.example.com", "port": "",
                      "security": "tls13", "from_address": "not an address"})  # fmt: skip
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    assert "Choose one of the options offered." in body
    assert "Enter an e-mail address such as crm@example.com." in body
    r = client.submit("/admin/mail/settings/", {})  # a truncated post wipes nothing
    assert r.status_code == 400
    db.session.rollback()
    assert (
        db.session.scalars(select(AppSetting.key).where(AppSetting.key.like("smtp_%"))).all() == []
    )
    assert not smtp.current().configured


def test_environment_defaults_apply_until_the_configuration_area_says(people, app, inbox):
    _handler, port = inbox
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=str(port), MAIL_FROM="env@example.com")
    current = smtp.current()
    assert current.configured and current.port == port and current.from_address == "env@example.com"
    smtp.save(people["admin"], host="127.0.0.1", port=port, security="none", user="",
              password=None, from_address="db@example.com")  # fmt: skip
    assert smtp.current().from_address == "db@example.com"


def test_the_test_email(people, login_as, inbox):
    handler, port = inbox
    client = login_as(people["admin"])
    r = client.submit("/admin/mail/settings/test", {"address": "ops@example.com"})
    assert r.status_code == 303
    (kept,) = _outbox()
    assert kept.status == KEPT and kept.to_address == "ops@example.com"
    _configure(client, port)
    r = client.submit(
        "/admin/mail/settings/test", {"address": "ops@example.com"}, follow_redirects=True
    )
    assert "The test e-mail was sent." in r.get_data(as_text=True)
    (msg,) = handler.messages
    assert msg["To"] == "ops@example.com" and "test e-mail" in msg["Subject"]
    r = client.submit("/admin/mail/settings/test", {"address": "nope"})
    assert r.status_code == 400 and len(_outbox()) == 2


def test_settings_need_the_configure_right(people, login_as):
    staff = login_as(people["staff"])
    assert staff.get("/admin/mail/settings/").status_code == 403
    assert (
        staff.submit("/admin/mail/settings/test", {"address": "x@example.com"}).status_code == 403
    )
    assert _configure(staff, 2525).status_code == 403
    assert _outbox() == []
    assert not smtp.current().configured
    designer = login_as(people["designer"])
    assert designer.get("/admin/mail/settings/").status_code == 200


def test_the_outbox_page_is_for_administrators_only(people, login_as):
    with unit_of_work():
        mail.send(people["staff"], "Quarterly report", "Line one\nLine <b>two</b>")
    entry = _outbox()[0]
    admin = login_as(people["admin"])
    page = admin.get("/admin/mail/").get_data(as_text=True)
    assert "Quarterly report" in page and "staff@example.com" in page and "Kept" in page
    one = admin.get(f"/admin/mail/{entry.id}").get_data(as_text=True)
    assert "Line one\nLine &lt;b&gt;two&lt;/b&gt;" in one
    assert admin.get("/admin/mail/999999").status_code == 404
    assert admin.get("/admin/mail/?before=x").status_code == 404
    assert admin.get("/admin/mail/?before=99999999999999999999").status_code == 404
    assert admin.get("/admin/mail/?before=9223372036854775807").status_code == 200
    for who in ("designer", "staff"):
        client = login_as(people[who])
        assert client.get("/admin/mail/").status_code == 403
        r = client.get(f"/admin/mail/{entry.id}")
        assert r.status_code == 403 and b"Quarterly" not in r.data


def test_the_outbox_pages_newest_first(people, login_as):
    with unit_of_work():
        for i in range(mail.PAGE + 3):
            mail.send(people["staff"], f"Message {i}", "")
    admin = login_as(people["admin"])
    page = admin.get("/admin/mail/").get_data(as_text=True)
    assert f"Message {mail.PAGE + 2}" in page and "Message 2<" not in page
    more = admin.hx_get(f"/admin/mail/?before={_outbox()[3].id}")
    body = more.get_data(as_text=True)
    assert "<html" not in body and "Message 2<" in body and "Message 3<" not in body
