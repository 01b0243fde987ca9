"""Logs that only grow are trimmed: finished webhook deliveries after 30 days, sent
e-mails after 90, read notifications after 180; nothing waiting, failing or unread."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crm.extensions import db
from crm.jobs import housekeeping, registry
from crm.notifications.models import MailMessage, Notification
from crm.timeutil import utcnow
from crm.webhooks.models import WebhookDelivery
from tests.factories import make_user


def _delivery(status: str, finished_days_ago: int | None) -> int:
    now = utcnow()
    row = WebhookDelivery(
        url="https://hooks.example.com/x", event="record.created", payload={}, secret="s",
        status=status, attempts=1, created_at=now - timedelta(days=40),
        finished_at=None if finished_days_ago is None else now - timedelta(days=finished_days_ago),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    return row.id


def _mail(user_id: int, status: str, sent_days_ago: int | None) -> int:
    now = utcnow()
    row = MailMessage(
        user_id=user_id, to_address="a@example.com", subject="s", body="b", status=status,
        attempts=1, created_at=now - timedelta(days=200),
        sent_at=None if sent_days_ago is None else now - timedelta(days=sent_days_ago),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    return row.id


def _note(user_id: int, read_days_ago: int | None) -> int:
    now = utcnow()
    row = Notification(
        user_id=user_id, kind="rule", title="t", body="", created_at=now - timedelta(days=400),
        read_at=None if read_days_ago is None else now - timedelta(days=read_days_ago),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    return row.id


def _ids(model) -> set[int]:
    db.session.rollback()
    return set(db.session.scalars(select(model.id)))


def test_expired_log_rows_go_and_the_rest_stay(app):
    user = make_user("kept@example.com")
    old_sent = _delivery("sent", 31)
    old_failed = _delivery("failed", 45)
    recent = _delivery("sent", 29)
    waiting = _delivery("queued", None)
    old_mail = _mail(user.id, "sent", 91)
    unsent = _mail(user.id, "failed", None)
    new_mail = _mail(user.id, "sent", 10)
    old_read = _note(user.id, 181)
    unread = _note(user.id, None)
    new_read = _note(user.id, 3)
    db.session.commit()

    done = housekeeping.sweep(batch=1)  # batches of one: the loop is exercised too
    assert done == {"webhook_deliveries": 2, "mail_outbox": 1, "notifications": 1}
    assert _ids(WebhookDelivery) == {recent, waiting}
    assert not {old_sent, old_failed} & _ids(WebhookDelivery)
    assert _ids(MailMessage) == {unsent, new_mail} and old_mail not in _ids(MailMessage)
    assert _ids(Notification) == {unread, new_read} and old_read not in _ids(Notification)
    assert housekeeping.sweep() == {"webhook_deliveries": 0, "mail_outbox": 0, "notifications": 0}


def test_the_sweep_runs_hourly_on_the_queue(app):
    (entry,) = [p for p in registry.PERIODIC if p[0] == "atelier.housekeeping"]
    assert registry.periodic_function(entry[2]) is housekeeping.sweep
    user = make_user("hourly@example.com")
    _note(user.id, 365)
    db.session.commit()
    registry.run_periodic(entry[2])
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
