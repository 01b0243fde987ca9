"""The webhook screens of the configuration area: the delivery log, one delivery with its
payload and "retry now", the allowed hosts; administrators (configure right) only."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.uow import unit_of_work
from crm.webhooks import service
from crm.webhooks.models import WebhookAllowedHost, WebhookDelivery
from tests.factories import make_role, make_user


def refused_delivery(payload=None) -> int:
    with unit_of_work():
        d = service.queue("http://10.0.0.9/hook", "deal.won", payload or {"n": 1}, "k")
        return d.id


def hosts() -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(WebhookAllowedHost.host).order_by("host")))


def test_the_log_lists_deliveries_newest_first_with_their_status(admin, login_as):
    first = refused_delivery({"name": "<b>first</b>"})
    second = refused_delivery()
    client = login_as(admin)
    r = client.get("/admin/webhooks/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert html.index(f'/admin/webhooks/{second}"') < html.index(f'/admin/webhooks/{first}"')
    assert "Refused" in html and "private or local" in html
    r = client.get("/admin/webhooks/?status=sent")
    assert f'/admin/webhooks/{first}"' not in r.get_data(as_text=True)
    r = client.get(f"/admin/webhooks/{first}")
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "&lt;b&gt;first&lt;/b&gt;" in page and "<b>first</b>" not in page  # escaped
    assert "Retry now" in page
    assert '"k"' not in page  # the secret is never shown


def test_the_log_pages(admin, login_as):
    with unit_of_work():
        for n in range(55):
            service.queue("file:///x", "e", {"n": n}, "k")
    client = login_as(admin)
    html = client.get("/admin/webhooks/").get_data(as_text=True)
    assert "Page 1 of 2" in html
    html = client.get("/admin/webhooks/?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in html
    assert client.get("/admin/webhooks/?page=99999999999999999999").status_code == 200


def test_retry_now_queues_the_delivery_again(admin, login_as):
    delivery_id = refused_delivery()
    client = login_as(admin)
    r = client.submit(f"/admin/webhooks/{delivery_id}/retry")
    assert r.status_code == 303
    db.session.rollback()
    d = db.session.get(WebhookDelivery, delivery_id)
    assert d.attempts == 1 and d.status == "refused"  # tried again, checked again
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "queued again" in page


def test_a_sent_delivery_cannot_be_retried(admin, login_as):
    delivery_id = refused_delivery()
    db.session.execute(WebhookDelivery.__table__.update().values(status="sent", attempts=1))
    db.session.commit()
    client = login_as(admin)
    r = client.submit(f"/admin/webhooks/{delivery_id}/retry", follow_redirects=True)
    assert "Only a failed or refused delivery" in r.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(WebhookDelivery, delivery_id).attempts == 1


@pytest.mark.parametrize("delivery_id", ["999999", "2147483648", "99999999999999999999", "0"])
def test_unknown_deliveries_are_404(admin, login_as, delivery_id):
    client = login_as(admin)
    assert client.get(f"/admin/webhooks/{delivery_id}").status_code == 404
    assert client.submit(f"/admin/webhooks/{delivery_id}/retry").status_code == 404


def test_allowed_hosts_are_added_and_removed(admin, login_as):
    client = login_as(admin)
    assert "No private host is allowed" in client.get("/admin/webhooks/hosts").get_data(
        as_text=True
    )
    r = client.submit("/admin/webhooks/hosts", {"host": " https://Hooks.Internal:8443/x "})
    assert r.status_code == 303
    assert hosts() == ["hooks.internal"]
    r = client.submit("/admin/webhooks/hosts", {"host": "hooks.internal"})
    assert r.status_code == 400 and "already allowed" in r.get_data(as_text=True)
    for bad in ("", "not a host!", "a" * 300, "http://"):
        r = client.submit("/admin/webhooks/hosts", {"host": bad})
        assert r.status_code == 400, bad
    assert hosts() == ["hooks.internal"]
    r = client.submit("/admin/webhooks/hosts", {"host": "[::1]"})
    assert r.status_code == 303 and hosts() == ["::1", "hooks.internal"]
    host_id = db.session.scalar(
        select(WebhookAllowedHost.id).where(WebhookAllowedHost.host == "hooks.internal")
    )
    assert client.submit(f"/admin/webhooks/hosts/{host_id}/remove").status_code == 303
    assert hosts() == ["::1"]
    assert client.submit(f"/admin/webhooks/hosts/{host_id}/remove").status_code == 404


def test_posts_without_a_csrf_token_change_nothing(admin, login_as):
    delivery_id = refused_delivery()
    client = login_as(admin)
    assert client.post("/admin/webhooks/hosts", data={"host": "x.internal"}).status_code == 400
    assert client.post(f"/admin/webhooks/{delivery_id}/retry").status_code == 400
    assert hosts() == []
    db.session.rollback()
    assert db.session.get(WebhookDelivery, delivery_id).attempts == 0


def test_only_those_who_configure_see_or_change_webhooks(app, admin, staff, login_as):
    make_role("Designer", {}, can_configure=True)
    designer = make_user("designer@example.com", roles=("Designer",))
    delivery_id = refused_delivery()
    with unit_of_work():
        db.session.add(WebhookAllowedHost(host="keep.internal"))
    host_id = db.session.scalar(select(WebhookAllowedHost.id))
    staff_client = login_as(staff)
    for url in ("/admin/webhooks/", f"/admin/webhooks/{delivery_id}", "/admin/webhooks/hosts"):
        assert staff_client.get(url).status_code == 403, url
    assert staff_client.submit(f"/admin/webhooks/{delivery_id}/retry").status_code == 403
    assert staff_client.submit("/admin/webhooks/hosts", {"host": "x.internal"}).status_code == 403
    assert staff_client.submit(f"/admin/webhooks/hosts/{host_id}/remove").status_code == 403
    assert hosts() == ["keep.internal"]
    db.session.rollback()
    assert db.session.get(WebhookDelivery, delivery_id).attempts == 0
    anonymous = app.test_client()
    assert anonymous.get("/admin/webhooks/").status_code in (302, 401)
    designer_client = login_as(designer)
    assert designer_client.get("/admin/webhooks/").status_code == 200
    assert designer_client.get("/admin/webhooks/hosts").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
