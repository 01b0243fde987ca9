"""What the configuration area does with webhooks: the delivery log (newest first, paged),
one delivery with its payload, "retry now", and the list of allowed private hosts.

Every function checks the configure right through the access policy before it reads or
writes anything; ids from URLs are checked against the columns' range before any query.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.access.policy import CONFIGURE, require
from crm.errors import Conflict, NotFound, ValidationFailed
from crm.extensions import db
from crm.uow import unit_of_work
from crm.webhooks import service
from crm.webhooks.models import FAILED, REFUSED, STATUSES, WebhookAllowedHost, WebhookDelivery
from crm.webhooks.urls import normalise_host

PER_PAGE = 50
MAX_ID = 2**31 - 1  # the tables' ids are 32-bit integers
HOST = re.compile(
    r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*"
)
RETRYABLE = (FAILED, REFUSED)


@dataclass(frozen=True)
class DeliveryPage:
    """One page of the log: ``rows`` newest first, of ``total``; page ``page`` of ``pages``."""

    rows: list[WebhookDelivery]
    total: int
    page: int
    pages: int
    status: str


def deliveries(actor: Any, *, page: int = 1, status: str = "") -> DeliveryPage:
    """A page of the delivery log, newest first, optionally of one ``status`` only (an
    unknown status is ignored). Raises ``Forbidden`` without the configure right."""
    require(actor, CONFIGURE)
    status = status if status in STATUSES else ""
    query = select(WebhookDelivery)
    if status:
        query = query.where(WebhookDelivery.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    rows = db.session.scalars(
        query.order_by(WebhookDelivery.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return DeliveryPage(list(rows), total, page, pages, status)


def delivery(actor: Any, delivery_id: int) -> WebhookDelivery:
    """One delivery. Raises ``Forbidden`` without the configure right, ``NotFound`` when
    there is no such delivery."""
    require(actor, CONFIGURE)
    found = db.session.get(WebhookDelivery, delivery_id) if 1 <= delivery_id <= MAX_ID else None
    if found is None:
        raise NotFound(_("There is no such webhook delivery."))
    return found


def pretty_payload(found: WebhookDelivery) -> str:
    """The delivery's payload as indented JSON, for reading."""
    return json.dumps(found.payload, ensure_ascii=False, indent=2, sort_keys=True)


def retry(actor: Any, delivery_id: int) -> WebhookDelivery:
    """Start a failed or refused delivery over now (its URL is checked again when the job
    runs). Raises ``Forbidden``, ``NotFound``, or ``Conflict`` when the delivery is queued
    or was sent."""
    with unit_of_work():
        found = delivery(actor, delivery_id)
        if found.status not in RETRYABLE:
            raise Conflict(_("Only a failed or refused delivery can be retried."))
        service.requeue(found)
    return found


def hosts(actor: Any) -> list[WebhookAllowedHost]:
    """The allowed private hosts, by name. Raises ``Forbidden`` without the right."""
    require(actor, CONFIGURE)
    return list(db.session.scalars(select(WebhookAllowedHost).order_by(WebhookAllowedHost.host)))


def clean_host(text: str) -> str:
    """The host named by ``text`` (a host name, an address, or a whole URL), normalised.
    Raises ``ValidationFailed`` (key ``host``) when it names none."""
    raw = (text or "").strip()
    if "://" in raw:
        try:
            raw = urlsplit(raw).hostname or ""
        except ValueError:
            raw = ""
    host = normalise_host(raw)
    valid = bool(host) and len(host) <= 253
    if valid:
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            valid = HOST.fullmatch(host) is not None
    if not valid:
        raise ValidationFailed(
            _("Enter a host name, like hooks.internal, or an address, like 10.0.0.5."),
            errors={"host": [_("Enter a host name, like hooks.internal, or an address.")]},
        )
    return host


def add_host(actor: Any, text: str) -> WebhookAllowedHost:
    """Allow webhooks to call ``text``'s host even at a private or loopback address.
    Raises ``Forbidden``, or ``ValidationFailed`` (key ``host``) for no host or one
    already allowed."""
    require(actor, CONFIGURE)
    host = clean_host(text)
    taken = _("This host is already allowed.")
    with unit_of_work(on_error={"unique": ValidationFailed(taken, errors={"host": [taken]})}):
        exists = db.session.scalar(
            select(WebhookAllowedHost.id).where(WebhookAllowedHost.host == host)
        )
        if exists is not None:
            raise ValidationFailed(taken, errors={"host": [taken]})
        row = WebhookAllowedHost(host=host, created_by=getattr(actor, "id", None))
        db.session.add(row)
        db.session.flush()
    return row


def remove_host(actor: Any, host_id: int) -> str:
    """Stop allowing the host ``host_id``; returns its name. Raises ``Forbidden``, or
    ``NotFound`` when it is not on the list."""
    with unit_of_work():
        require(actor, CONFIGURE)
        row = db.session.get(WebhookAllowedHost, host_id) if 1 <= host_id <= MAX_ID else None
        if row is None:
            raise NotFound(_("This host is not on the allowed list."))
        name = row.host
        db.session.delete(row)
    return name
