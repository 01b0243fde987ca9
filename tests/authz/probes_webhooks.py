"""Probes of the webhook screens (configuration area, the configure right): the delivery
log, one delivery, "retry now", and adding and removing allowed hosts, each on real rows.
Without the right: 403 and nothing changed; with it: the page, or the change made."""

from __future__ import annotations

from sqlalchemy import select, text

from crm.extensions import db
from crm.uow import unit_of_work
from crm.webhooks import service
from crm.webhooks.models import WebhookAllowedHost, WebhookDelivery
from tests.authz import oracle
from tests.authz.harness import Run

KEPT_HOST = "probe-kept.internal"


def webhook_rows() -> tuple[int, int]:
    """A refused delivery and an allowed host that exist (made once per world)."""
    db.session.rollback()
    delivery_id = db.session.scalar(select(WebhookDelivery.id).order_by(WebhookDelivery.id))
    host_id = db.session.scalar(
        select(WebhookAllowedHost.id).where(WebhookAllowedHost.host == KEPT_HOST)
    )
    with unit_of_work():
        if delivery_id is None:
            delivery_id = service.queue("http://10.9.9.9/hook", "probe", {"n": 1}, "k").id
        if host_id is None:
            row = WebhookAllowedHost(host=KEPT_HOST)
            db.session.add(row)
            db.session.flush()
            host_id = row.id
    return delivery_id, host_id


def _state() -> tuple:
    db.session.rollback()
    state = (
        tuple(db.session.execute(text("SELECT id, status, attempts FROM webhook_deliveries"))),
        tuple(db.session.execute(text("SELECT id, host FROM webhook_allowed_hosts ORDER BY id"))),
    )
    db.session.rollback()
    return state


def _write(run: Run, route: str, url: str, data: dict, allowed: bool, changes: bool | None) -> None:
    """``changes``: whether an allowed write shows in the stored state (None: either)."""
    before = _state()
    r = run.post(url, data)
    status, changed = r.status_code, _state() != before
    if allowed:
        observed = status in (302, 303) and changes in (None, changed)
    else:
        observed = not (status == 403 and not changed)
    run.case(route, "-", "webhooks", allowed, observed,
             f"(HTTP {status}{', changed stored data' if changed else ''})")  # fmt: skip


def probe_webhooks(run: Run) -> None:
    allowed = oracle.may_configure(run.actor)
    delivery_id, host_id = webhook_rows()
    run.read_case("webhooks.deliveries", "-", "-", allowed, run.get("/admin/webhooks/"))
    r = run.get(f"/admin/webhooks/{delivery_id}")
    run.read_case("webhooks.delivery", "-", "-", allowed, r)
    run.read_case("webhooks.hosts", "-", "-", allowed, run.get("/admin/webhooks/hosts"))
    # retry: a refused delivery starts over, and is refused again (10.x is private): the row
    # may end as it was
    _write(run, "webhooks.delivery_retry", f"/admin/webhooks/{delivery_id}/retry", {},
           allowed, changes=None)  # fmt: skip
    name = f"probe-{run.actor}.internal".replace("_", "-")
    _write(run, "webhooks.hosts[add]", "/admin/webhooks/hosts", {"host": name}, allowed,
           changes=True)  # fmt: skip
    added = db.session.scalar(select(WebhookAllowedHost.id).where(WebhookAllowedHost.host == name))
    db.session.rollback()
    target = added if added is not None else host_id
    _write(run, "webhooks.host_remove", f"/admin/webhooks/hosts/{target}/remove", {}, allowed,
           changes=True)  # fmt: skip
