"""What the installation keeps, and for how long: logs that only grow are trimmed.

``RETENTION`` is the one table of what is trimmed: finished webhook deliveries (their log,
answers included) after 30 days, sent e-mails after 90, notifications read 180 days ago.
Nothing waiting, failing or unread is touched. ``sweep`` (a periodic job, hourly) deletes
what has expired in batches of ``BATCH``, each its own transaction, so a large backlog
never holds a long lock and a sweep cut short keeps what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select

from crm.extensions import db
from crm.timeutil import utcnow
from crm.uow import unit_of_work

BATCH = 5_000


@dataclass(frozen=True)
class Retention:
    """Rows of ``model`` whose ``moment`` (a column name) is more than ``days`` old and that
    meet ``condition`` (when there is one) are trimmed."""

    name: str
    model: Callable[[], Any]
    moment: str
    days: int
    condition: Callable[[Any], ColumnElement[bool]] | None = None


def _webhook_delivery() -> Any:
    from crm.webhooks.models import WebhookDelivery

    return WebhookDelivery


def _mail() -> Any:
    from crm.notifications.models import MailMessage

    return MailMessage


def _notification() -> Any:
    from crm.notifications.models import Notification

    return Notification


def _finished_delivery(model: Any) -> ColumnElement[bool]:
    from crm.webhooks.models import FAILED, REFUSED, SENT

    return model.status.in_((SENT, FAILED, REFUSED))


def _sent_mail(model: Any) -> ColumnElement[bool]:
    from crm.notifications.models import SENT

    return model.status == SENT


RETENTION: tuple[Retention, ...] = (
    Retention("webhook_deliveries", _webhook_delivery, "finished_at", 30, _finished_delivery),
    Retention("mail_outbox", _mail, "sent_at", 90, _sent_mail),
    Retention("notifications", _notification, "read_at", 180),
)


def _trim(entry: Retention, now: datetime, batch: int) -> int:
    model = entry.model()
    moment = getattr(model, entry.moment)
    where = [moment.is_not(None), moment < now - timedelta(days=entry.days)]
    if entry.condition is not None:
        where.append(entry.condition(model))
    total = 0
    while True:
        with unit_of_work():
            ids = db.session.scalars(
                select(model.id).where(*where).order_by(model.id).limit(batch)
            ).all()
            if ids:
                db.session.execute(
                    delete(model)
                    .where(model.id.in_(ids))
                    .execution_options(synchronize_session=False)
                )
        total += len(ids)
        if len(ids) < batch:
            return total


def sweep(now: datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """Trim every log of ``RETENTION`` as of ``now`` (naive UTC, default now). Returns how
    many rows each lost."""
    now = now or utcnow()
    return {entry.name: _trim(entry, now, batch) for entry in RETENTION}


__all__ = ["BATCH", "RETENTION", "Retention", "sweep"]
