"""E-mail: every message is a row of the outbox (``mail_outbox``), added in the unit of
work of the change that causes it. Without a mail server configured the row is only kept
(the outbox page shows it: ``make run`` needs no mail server); with one, the row is
queued and a ``mail.send`` job, added in the same unit of work, sends it
(``crm.notifications.sending``).

The outbox page is for full administrators only: a message's body was written for its
recipient, with the record fields *they* may read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access.service import require_admin
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.jobs import outbox
from crm.notifications import smtp
from crm.notifications.models import KEPT, QUEUED, MailMessage
from crm.timeutil import utcnow
from crm.uow import unit_of_work

SEND_JOB = "mail.send"
PAGE = 50
MAX_ID = 2**31 - 1


def send(user: Any, subject: str, body: str) -> MailMessage:
    """Add an e-mail to ``user`` to the outbox, in the caller's unit of work: kept when no
    mail server is configured, else queued with the job that sends it."""
    return send_to(user.email, subject, body, user_id=user.id)


def send_to(address: str, subject: str, body: str, *, user_id: int | None = None) -> MailMessage:
    """Add an e-mail to ``address`` to the outbox (see ``send``). Call inside a unit of work
    when a mail server is configured (the job joins it: ``RuntimeError`` otherwise)."""
    configured = smtp.current().configured
    entry = MailMessage(
        user_id=user_id,
        to_address=address[:254],
        subject=" ".join(subject.split())[:200],  # one line: a header
        body=body,
        status=QUEUED if configured else KEPT,
        attempts=0,
        created_at=utcnow(),
    )
    db.session.add(entry)
    if configured:
        db.session.flush()
        outbox.enqueue(SEND_JOB, {"message_id": entry.id}, user_id=user_id)
    return entry


def send_test(actor: Any, address: str) -> MailMessage:
    """Send a test e-mail to ``address`` with the settings in force (the configure right,
    else ``Forbidden``); ``ValidationFailed`` (key ``address``) for a bad address."""
    from email_validator import EmailNotValidError, validate_email

    from crm.access import policy

    policy.require(actor, policy.CONFIGURE)
    text = (address or "").strip()
    try:
        validate_email(text, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError:
        message = _("Enter an e-mail address such as crm@example.com.")
        raise ValidationFailed(message, errors={"address": [message]}) from None
    with unit_of_work():
        entry = send_to(
            text,
            _("Atelier CRM: test e-mail"),
            _("This is a test e-mail sent by %(name)s from Atelier CRM's settings page.",
              name=actor.display_name),
            user_id=actor.id,
        )  # fmt: skip
        db.session.flush()
        message_id = entry.id
    return db.session.get(MailMessage, message_id)


def _refusal() -> str:
    return _("Only full administrators may read the e-mail outbox.")


@dataclass(frozen=True)
class OutboxPage:
    """A page of the outbox, newest first; ``more`` when older messages follow."""

    messages: list[MailMessage]
    more: bool


def messages(actor: Any, before: int | None = None) -> OutboxPage:
    """The newest ``PAGE`` messages of the outbox (older than the id ``before``). Full
    administrators only (``Forbidden``)."""
    require_admin(actor, _refusal())
    query = select(MailMessage)
    if before is not None:
        query = query.where(MailMessage.id < min(max(before, 1), MAX_ID))
    rows = db.session.scalars(query.order_by(MailMessage.id.desc()).limit(PAGE + 1)).all()
    return OutboxPage(list(rows[:PAGE]), len(rows) > PAGE)


def message(actor: Any, message_id: int) -> MailMessage:
    """One message of the outbox (full administrators only: ``Forbidden``); ``NotFound``
    when there is none such."""
    require_admin(actor, _refusal())
    entry = db.session.get(MailMessage, message_id) if 1 <= message_id <= MAX_ID else None
    if entry is None:
        raise NotFound(_("There is no such e-mail."))
    return entry
