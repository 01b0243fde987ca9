"""System tables of outgoing webhooks: every delivery (the log) and the private hosts an
administrator allows webhooks to call.

A delivery is one event sent to one URL, tried until it is ``sent`` (a 2xx answer), gives
up (``failed``, after ``MAX_ATTEMPTS`` attempts) or is ``refused`` (a URL webhooks may not
call: not http(s), credentials in it, or a private address on a host nobody allowed).
The ``secret`` signs every attempt (each has its own timestamp) and is never shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

QUEUED, SENT, FAILED, REFUSED = "queued", "sent", "failed", "refused"
STATUSES = (QUEUED, SENT, FAILED, REFUSED)
EXCERPT_CHARS = 2000  # how much of an answer's body the log keeps
URL_CHARS = 2000


class WebhookDelivery(db.Model):
    """One event for one URL and what became of it (``attempts``, the last answer's code,
    error and the start of its body). ``rule_id``/``entity_key``/``record_id`` say what
    caused it, when something did."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_CHARS))
    event: Mapped[str] = mapped_column(String(100))
    payload: Mapped[Any] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("automation_rules.id", name="fk_webhook_deliveries_rule_id", ondelete="SET NULL")
    )
    entity_key: Mapped[str | None] = mapped_column(String(41))
    record_id: Mapped[int | None] = mapped_column(BigInteger)


class WebhookAllowedHost(db.Model):
    """A host name (or address, as written in URLs) whose private or loopback addresses
    webhooks may call: an administrator's explicit exception to the public-only rule."""

    __tablename__ = "webhook_allowed_hosts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(253), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_webhook_allowed_hosts_created_by", ondelete="SET NULL")
    )
