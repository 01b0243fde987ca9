"""Outgoing webhooks: queue a delivery, deliver it (signed, retried with back-off, logged).

``queue(url, event, payload, secret, source=...)`` adds a delivery and its job to the unit
of work of the change that causes it (an automation rule's "webhook" action, later the
REST API's subscriptions): both commit, or neither. The job ``webhook.deliver`` checks the
URL again (``crm.webhooks.urls.vet``: the address may have changed since it was saved),
POSTs the signed body to the address it checked, and records the answer. A 2xx answer is
``sent``; anything else is tried again after ``BACKOFF[attempt - 1]`` (1 min, 5 min,
30 min, 2 h, 6 h) by a job that waits (``crm.jobs.outbox.enqueue(delay=...)``), until
``MAX_ATTEMPTS`` attempts have failed. A URL webhooks may not call is ``refused``, never
tried. The delivery log and the allowed hosts are ``crm.webhooks.admin``'s.

Deliveries are at least once: a worker killed after sending and before its unit commits
leaves the attempt unrecorded, and the job runs again; receivers ignore repeats by
``X-Atelier-Delivery``. No transaction is open while the request runs (up to 10 s).
Receivers: ``docs/webhooks.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from flask_babel import gettext as _

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.jobs import handler
from crm.jobs.outbox import enqueue
from crm.timeutil import utcnow
from crm.uow import end_reads, unit_of_work
from crm.webhooks import signing, transport
from crm.webhooks.models import (
    EXCERPT_CHARS,
    FAILED,
    QUEUED,
    REFUSED,
    SENT,
    WebhookDelivery,
)
from crm.webhooks.urls import RESOLVE, Problem, vet

KIND = "webhook.deliver"
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
EVENT_CHARS = 100
SECRET_CHARS = 500
BODY_BYTES = 1_000_000
USER_AGENT = "Atelier-CRM-Webhooks/1"


@dataclass(frozen=True)
class Source:
    """What caused a delivery, when something did: a rule, on a record of an entity."""

    rule_id: int | None = None
    entity_key: str | None = None
    record_id: int | None = None


def queue(
    url: str,
    event: str,
    payload: Any,
    secret: str,
    *,
    source: Source | Mapping[str, Any] | None = None,
) -> WebhookDelivery:
    """Add a delivery of ``event`` with ``payload`` (JSON-able) to ``url``, signed with
    ``secret``, and its job, to the unit of work open now (or one of its own). A URL that
    is plainly not callable (not http(s), credentials, a private literal address on a host
    nobody allowed) is logged as ``refused`` with the reason and gets no job; the host's
    DNS answer is checked by the job, right before it sends.

    Raises ``ValidationFailed`` for an empty event name or secret, or a payload that is not
    JSON or is larger than 1 MB as JSON."""
    event = (event or "").strip()
    errors: dict[str, list[str]] = {}
    if not event or len(event) > EVENT_CHARS:
        errors["event"] = [_("Name the event in at most 100 characters.")]
    if not secret or len(secret) > SECRET_CHARS:
        errors["secret"] = [_("A webhook needs a signing secret of at most 500 characters.")]
    try:
        body = signing.body_of(payload)
    except (TypeError, ValueError):
        errors["payload"] = [_("The webhook's content cannot be written as JSON.")]
    else:
        if len(body) > BODY_BYTES:
            errors["payload"] = [_("The webhook's content is larger than 1 MB.")]
        payload = json.loads(body)
    if errors:
        raise ValidationFailed(_("This webhook cannot be sent."), errors=errors)
    src = source if isinstance(source, Source) else Source(**dict(source or {}))
    with unit_of_work():
        problems = vet(url, lookup=False)[1]
        now = utcnow()
        delivery = WebhookDelivery(
            url=(url or "").strip()[:2000],
            event=event,
            payload=payload,
            secret=secret,
            status=QUEUED,
            attempts=0,
            created_at=now,
            rule_id=src.rule_id,
            entity_key=src.entity_key,
            record_id=src.record_id,
        )
        db.session.add(delivery)
        db.session.flush()
        if problems:
            _refuse(delivery, problems, now)
        else:
            delivery.next_attempt_at = now
            enqueue(KIND, {"delivery_id": delivery.id, "attempt": 0})
    return delivery


def requeue(delivery: WebhookDelivery) -> None:
    """Start ``delivery`` over now (its attempts counted from zero), in the unit of work
    open now: "retry now" on a failed or refused delivery."""
    delivery.status = QUEUED
    delivery.attempts = 0
    delivery.finished_at = None
    delivery.next_attempt_at = utcnow()
    enqueue(KIND, {"delivery_id": delivery.id, "attempt": 0})


def _refuse(delivery: WebhookDelivery, problems: list[Problem], now) -> None:
    delivery.status = REFUSED
    delivery.last_error = " ".join(p.message for p in problems)
    delivery.next_attempt_at = None
    delivery.finished_at = now


def headers_for(delivery: WebhookDelivery, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one attempt: content type, event, delivery id, timestamp and the
    signature of ``<timestamp>.<body>``."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Atelier-Event": delivery.event,
        "X-Atelier-Delivery": str(delivery.id),
        "X-Atelier-Timestamp": str(timestamp),
        "X-Atelier-Signature": signing.sign(delivery.secret, timestamp, body),
    }


def attempt(delivery_id: int, expected: int | None = None) -> str:
    """Make one attempt of delivery ``delivery_id`` (in the unit of work open now) and
    record it; returns the delivery's status afterwards. Does nothing (returns
    ``"skipped"``) for a delivery that is not queued, or whose attempts are no longer
    ``expected`` (a stale job: the delivery was started over meanwhile).

    No transaction stays open while the request is under way (``end_reads``): on SQLite,
    a read transaction that outlived other writers could not write the outcome after."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != QUEUED:
        return "skipped"
    if expected is not None and delivery.attempts != expected:
        return "skipped"
    before = delivery.attempts
    target, problems = vet(delivery.url)
    now = utcnow()
    if problems and problems[0].code != RESOLVE:
        delivery.attempts += 1
        _refuse(delivery, problems, now)
        return delivery.status
    if target is None:
        answer = transport.Answer(None, error=problems[0].message)
    else:
        body = signing.body_of(delivery.payload)
        headers = headers_for(delivery, body, int(now.replace(tzinfo=UTC).timestamp()))
        end_reads()
        answer = transport.post(target, body, headers)
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != QUEUED or delivery.attempts != before:
            return "skipped"  # changed while the request ran: that change stands
    delivery.attempts = before + 1
    return _record(delivery, answer, now)


def _record(delivery: WebhookDelivery, answer: transport.Answer, now) -> str:
    delivery.last_status_code = answer.status
    delivery.response_excerpt = answer.excerpt[:EXCERPT_CHARS] or None
    if answer.status is not None and 200 <= answer.status < 300:
        delivery.status, delivery.last_error = SENT, None
        delivery.next_attempt_at, delivery.finished_at = None, now
        return SENT
    delivery.last_error = answer.error or _error_of(answer.status)
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at, delivery.finished_at = FAILED, None, now
        return FAILED
    delay = BACKOFF[delivery.attempts - 1]
    delivery.next_attempt_at = now + delay
    enqueue(KIND, {"delivery_id": delivery.id, "attempt": delivery.attempts}, delay=delay)
    return QUEUED


def _error_of(status: int | None) -> str:
    if status is not None and 300 <= status < 400:
        return _("The receiver answered with a redirect (HTTP %(code)s); webhooks do not "
                 "follow redirects.", code=status)  # fmt: skip
    return _("The receiver answered HTTP %(code)s.", code=status)


def _describe(payload: Mapping[str, Any], result: Any) -> dict[str, Any]:
    return {"title": _("Webhook delivery %(id)s", id=payload.get("delivery_id", "?"))}


@handler(KIND, describe=_describe)
def deliver_job(ctx: Any) -> dict[str, Any]:
    """The job ``webhook.deliver``: one attempt of the delivery its payload names."""
    delivery_id = int(ctx.payload["delivery_id"])
    expected = ctx.payload.get("attempt")
    status = attempt(delivery_id, None if expected is None else int(expected))
    return {"delivery_id": delivery_id, "status": status}
