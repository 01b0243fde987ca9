"""System tables of notifications, e-mail preferences and the e-mail outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

# Kinds of notification; a user chooses per kind whether it also comes by e-mail.
RULE, TASK_REMINDER, TASK_ASSIGNED, APPROVAL, APPROVAL_OUTCOME = (
    "rule",
    "task_reminder",
    "task_assigned",
    "approval",
    "approval_outcome",
)
# A record returns to its customer pool soon (crm.pools.reclaim).
POOL_WARNING = "pool_warning"
KINDS = (RULE, TASK_REMINDER, TASK_ASSIGNED, APPROVAL, APPROVAL_OUTCOME, POOL_WARNING)

# States of an e-mail in the outbox: kept (no mail server configured: shown in the
# outbox page only), queued (a job will send it), sent, failed (retries spent).
KEPT, QUEUED, SENT, FAILED = "kept", "queued", "sent", "failed"


class Notification(db.Model):
    """One message in a user's bell, about one record (or none)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", name="fk_notifications_user_id_users", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str | None] = mapped_column(String(41))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(Integer)
    # Where opening it leads when not to its record (an approval request): a path of this
    # site, never another site's address.
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)


class EmailChoice(db.Model):
    """A user's choice of whether notifications of ``kind`` also come by e-mail (no row:
    the kind's default, ``crm.notifications.service.EMAIL_BY_DEFAULT``)."""

    __tablename__ = "notification_email_choices"

    user_id: Mapped[int] = mapped_column(
        ForeignKey(
            "users.id", name="fk_notification_email_choices_user_id_users", ondelete="CASCADE"
        ),
        primary_key=True,
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)


class MailMessage(db.Model):
    """One e-mail, kept in the outbox whether or not a mail server sends it."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_mail_outbox_user_id_users", ondelete="SET NULL")
    )
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default=KEPT)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
