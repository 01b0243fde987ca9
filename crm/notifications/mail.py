"""E-mail: every message is a row of the outbox (``mail_outbox``), added in the unit of
work of the change that causes it. Without a mail server configured the row is only kept
(the outbox page shows it: ``make run`` needs no mail server)."""

from __future__ import annotations

from typing import Any

from crm.extensions import db
from crm.notifications.models import KEPT, MailMessage
from crm.timeutil import utcnow


def send(user: Any, subject: str, body: str) -> MailMessage:
    """Add an e-mail to ``user`` to the outbox, in the caller's transaction."""
    entry = MailMessage(
        user_id=user.id,
        to_address=user.email,
        subject=subject[:200],
        body=body,
        status=KEPT,
        attempts=0,
        created_at=utcnow(),
    )
    db.session.add(entry)
    return entry
