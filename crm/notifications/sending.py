"""The ``mail.send`` job: one attempt at sending one queued message of the outbox over SMTP.

A message is tried up to ``MAIL_MAX_ATTEMPTS`` times. A failed try records its error and,
while tries are left, queues the next one as a job that waits (``MAIL_RETRY_SECONDS``,
then twice that...: ``crm.jobs.outbox.enqueue(delay=...)``), so no worker sleeps and no
transaction stays open between tries; the last failure marks the row ``failed``. The
job itself ends done either way (its outcome is the message's status): a failure must
not roll back the row that records it. The read transaction is ended before the server is
called, so none is open during the network call either.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from crm.extensions import db
from crm.jobs.outbox import enqueue
from crm.jobs.registry import handler
from crm.notifications import smtp
from crm.notifications.mail import SEND_JOB
from crm.notifications.models import FAILED, KEPT, QUEUED, SENT, MailMessage
from crm.timeutil import utcnow
from crm.uow import end_reads


def build(settings: smtp.SmtpSettings, entry: MailMessage) -> EmailMessage:
    """The e-mail of the outbox row ``entry``, from the configured sender."""
    email = EmailMessage()
    email["From"] = settings.from_address
    email["To"] = entry.to_address
    email["Subject"] = entry.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=settings.from_address.rpartition("@")[2] or None)
    email.set_content(entry.body or "")
    return email


def deliver(settings: smtp.SmtpSettings, email: EmailMessage) -> None:
    """Hand ``email`` to the SMTP server of ``settings``; raises ``smtplib.SMTPException``
    or ``OSError`` when it cannot."""
    timeout = float(current_app.config.get("MAIL_TIMEOUT_SECONDS", 20))
    context = ssl.create_default_context()
    if settings.security == smtp.SSL:
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=timeout, context=context
        )
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with server:
        if settings.security == smtp.STARTTLS:
            server.starttls(context=context)
        if settings.user:
            server.login(settings.user, settings.password)
        server.send_message(email)


def _error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)  # fmt: skip
        return f"{exc.smtp_code} {text}"[:1000]
    return f"{type(exc).__name__}: {exc}"[:1000]


def send_now(entry: MailMessage) -> str:
    """Try once to send the queued ``entry`` (in the caller's unit of work); returns its
    new status: ``sent``, ``failed`` after its last try, or ``queued`` with the next try
    queued as a waiting job. A row that is not queued is left as it is."""
    if entry.status != QUEUED:
        return entry.status
    settings = smtp.current()
    if not settings.configured:  # the host was removed since: keep it
        entry.status = KEPT
        return KEPT
    tries = max(1, int(current_app.config.get("MAIL_MAX_ATTEMPTS", 3)))
    pause = max(0.0, float(current_app.config.get("MAIL_RETRY_SECONDS", 2)))
    email, message_id, before = build(settings, entry), entry.id, entry.attempts or 0
    end_reads()
    try:
        deliver(settings, email)
        error = None
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        error = _error(exc)
    entry = db.session.get(MailMessage, message_id)
    if entry is None or entry.status != QUEUED or (entry.attempts or 0) != before:
        return "skipped"  # changed while the server was called: that change stands
    entry.attempts = before + 1
    if error is None:
        entry.status, entry.sent_at, entry.error = SENT, utcnow(), None
        return SENT
    entry.error = error
    if entry.attempts >= tries:
        entry.status = FAILED
        return FAILED
    enqueue(SEND_JOB, {"message_id": entry.id}, delay=timedelta(seconds=pause * entry.attempts))
    return QUEUED


def _describe(payload: Mapping[str, Any], result: Any) -> dict[str, Any]:
    return {"title": _("Sending an e-mail")}


@handler(SEND_JOB, describe=_describe)
def run_send(ctx: Any) -> dict[str, Any]:
    """Send the outbox message named by the job's payload (``message_id``)."""
    try:
        message_id = int(ctx.payload.get("message_id"))
    except (TypeError, ValueError):
        return {"status": "missing"}
    entry = db.session.get(MailMessage, message_id) if 1 <= message_id < 2**31 else None
    if entry is None:
        return {"status": "missing"}
    status = send_now(entry)
    return {"status": status, "message_id": message_id}
