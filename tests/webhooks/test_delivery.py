"""Webhook deliveries against a local receiver: the signed body arrives, failures are tried
again on the back-off schedule (a frozen clock and the job sweep, no sleeps), URLs that
lead into private networks are refused before any request is made."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.jobs import runner
from crm.jobs.models import Job
from crm.uow import unit_of_work
from crm.webhooks import admin as webhooks_admin
from crm.webhooks import service
from crm.webhooks.models import FAILED, QUEUED, REFUSED, SENT, WebhookAllowedHost, WebhookDelivery
from crm.webhooks.signing import verify
from crm.webhooks.urls import check_url

SECRET = "s3cret-for-tests"
PAYLOAD = {"event": "deal.won", "record": {"id": 7, "name": "Acme — 10 % off"}}


def send(url: str, **kwargs) -> int:
    with unit_of_work():
        delivery = service.queue(url, "deal.won", PAYLOAD, SECRET, **kwargs)
        delivery_id = delivery.id
    return delivery_id


def row(delivery_id: int) -> WebhookDelivery:
    db.session.rollback()
    return db.session.get(WebhookDelivery, delivery_id)


def waiting_jobs() -> list[Job]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(Job).where(Job.kind == service.KIND, Job.status == "queued").order_by(Job.id)
        )
    )


@pytest.fixture
def allowed(admin, receiver):
    webhooks_admin.add_host(admin, "127.0.0.1")
    return receiver


def test_a_delivery_arrives_signed_and_is_logged_as_sent(allowed, clock):
    receiver = allowed
    delivery_id = send(receiver.url, source={"rule_id": None, "entity_key": "deal", "record_id": 7})
    d = row(delivery_id)
    assert (d.status, d.attempts, d.last_status_code) == (SENT, 1, 200)
    assert d.finished_at == clock.now and d.response_excerpt == "answer 200"
    assert (d.entity_key, d.record_id) == ("deal", 7)
    [got] = receiver.requests
    h = got["headers"]
    assert got["path"] == "/hook?x=1"
    assert h["Content-Type"] == "application/json"
    assert h["X-Atelier-Event"] == "deal.won"
    assert h["X-Atelier-Delivery"] == str(delivery_id)
    assert h["X-Atelier-Timestamp"] == str(int(clock.timestamp))
    assert json.loads(got["body"]) == PAYLOAD
    # the receiver checks the signature over the raw body it got
    assert verify(SECRET, h["X-Atelier-Timestamp"], got["body"], h["X-Atelier-Signature"],
                  now=clock.timestamp)  # fmt: skip
    assert not verify("wrong", h["X-Atelier-Timestamp"], got["body"], h["X-Atelier-Signature"],
                      now=clock.timestamp)  # fmt: skip
    assert not verify(SECRET, h["X-Atelier-Timestamp"], got["body"] + b" ",
                      h["X-Atelier-Signature"], now=clock.timestamp)  # fmt: skip


def test_a_500_is_retried_after_a_minute_and_then_sent(allowed, clock):
    receiver = allowed
    receiver.answers = [500, 200]
    start = clock.now
    delivery_id = send(receiver.url)
    d = row(delivery_id)
    assert (d.status, d.attempts, d.last_status_code) == (QUEUED, 1, 500)
    assert "HTTP 500" in d.last_error
    assert d.next_attempt_at == start + timedelta(minutes=1)
    [job] = waiting_jobs()
    assert job.run_after == start + timedelta(minutes=1)
    # not before its time: the sweep leaves it waiting
    clock.advance(timedelta(seconds=59))
    runner.sweep(now=clock.timestamp)
    assert row(delivery_id).attempts == 1 and len(receiver.requests) == 1
    clock.advance(timedelta(seconds=2))
    runner.sweep(now=clock.timestamp)
    d = row(delivery_id)
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == (SENT, 2, 200, None)
    assert len(receiver.requests) == 2 and waiting_jobs() == []
    # each attempt is signed with its own timestamp
    stamps = [r["headers"]["X-Atelier-Timestamp"] for r in receiver.requests]
    assert stamps[0] != stamps[1]
    for r in receiver.requests:
        h = r["headers"]
        assert verify(SECRET, h["X-Atelier-Timestamp"], r["body"], h["X-Atelier-Signature"],
                      tolerance=None)  # fmt: skip


def test_back_off_schedule_then_failed_after_six_attempts(allowed, clock):
    receiver = allowed
    receiver.answers = [503]
    delivery_id = send(receiver.url)
    delays = [timedelta(minutes=m) for m in (1, 5, 30, 120, 360)]
    for attempt, delay in enumerate(delays, start=1):
        d = row(delivery_id)
        assert (d.status, d.attempts) == (QUEUED, attempt)
        assert d.next_attempt_at - clock.now == delay
        clock.advance(delay - timedelta(seconds=1))
        runner.sweep(now=clock.timestamp)
        assert row(delivery_id).attempts == attempt  # one second early: still waiting
        clock.advance(timedelta(seconds=2))
        runner.sweep(now=clock.timestamp)
    d = row(delivery_id)
    assert (d.status, d.attempts, d.last_status_code) == (FAILED, 6, 503)
    assert d.next_attempt_at is None and d.finished_at == clock.now
    assert len(receiver.requests) == 6 and waiting_jobs() == []
    clock.advance(timedelta(days=1))
    runner.sweep(now=clock.timestamp)
    assert len(receiver.requests) == 6


def test_a_redirect_is_not_followed(allowed, clock):
    receiver = allowed
    receiver.answers = [302]
    delivery_id = send(receiver.url)
    d = row(delivery_id)
    assert (d.status, d.last_status_code) == (QUEUED, 302)
    assert "redirect" in d.last_error
    assert len(receiver.requests) == 1


def test_a_receiver_that_is_down_is_retried(admin, clock):
    webhooks_admin.add_host(admin, "127.0.0.1")
    delivery_id = send("http://127.0.0.1:9/nothing-listens-here")
    d = row(delivery_id)
    assert (d.status, d.attempts, d.last_status_code) == (QUEUED, 1, None)
    assert d.last_error  # the connection error, said


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:{port}/hook", "private or local"),
        ("http://localhost:{port}/hook", "private or local"),
        ("http://10.1.2.3/hook", "private or local"),
        ("http://169.254.169.254/latest/meta-data/", "private or local"),
        ("http://[::1]:{port}/hook", "private or local"),
        ("http://[::ffff:127.0.0.1]:{port}/hook", "private or local"),
        ("http://0.0.0.0:{port}/hook", "private or local"),
        ("file:///etc/passwd", "http:// or https://"),
        ("http://user:pw@127.0.0.1:{port}/hook", "user name and password"),
    ],
)
def test_urls_into_private_networks_are_refused_without_a_request(
    app, receiver, dns, clock, url, words
):
    url = url.format(port=receiver.port)
    messages = check_url(url)
    assert messages and any(words in m for m in messages), messages
    delivery_id = send(url)
    runner.sweep(now=clock.timestamp + 3600)
    d = row(delivery_id)
    assert d.status == REFUSED and words in d.last_error
    assert receiver.requests == []


def test_an_allowed_host_connects_to_the_address_it_checked(admin, receiver, dns, clock):
    """A name resolving to a loopback address is refused until it is allowed; then the
    request goes to the checked address and names the host as written."""
    dns["hooks.internal"] = ["127.0.0.1"]
    url = f"http://hooks.internal:{receiver.port}/in"
    assert "private or local" in check_url(url)[0]
    webhooks_admin.add_host(admin, "HOOKS.internal.")
    assert check_url(url) == []
    d = row(send(url))
    assert d.status == SENT
    [got] = receiver.requests
    assert got["headers"]["Host"] == f"hooks.internal:{receiver.port}"


def test_dns_rebinding_is_caught_at_delivery_time(app, receiver, dns, clock):
    """Public when the URL was saved, private when the delivery runs: refused, nothing sent."""
    dns["rebind.example.com"] = ["93.184.215.14"]
    url = f"http://rebind.example.com:{receiver.port}/hook"
    assert check_url(url) == []
    dns["rebind.example.com"] = ["93.184.215.14", "127.0.0.1"]
    d = row(send(url))
    assert d.status == REFUSED and "private or local" in d.last_error
    assert receiver.requests == []


def test_a_name_that_does_not_resolve_is_retried(app, dns, clock):
    d = row(send("https://nowhere.example.com/hook"))
    assert (d.status, d.attempts) == (QUEUED, 1)
    assert "cannot be found" in d.last_error


def test_bad_input_is_refused_and_nothing_is_stored(app):
    from crm.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as err:
        service.queue("https://hooks.example.com/", "", {"a": object()}, "")
    assert set(err.value.errors) == {"event", "payload", "secret"}
    with pytest.raises(ValidationFailed) as err:
        service.queue("https://hooks.example.com/", "e", {"a": "x" * 1_000_001}, "k")
    assert "larger than 1 MB" in err.value.errors["payload"][0]
    db.session.rollback()
    assert db.session.scalar(select(WebhookDelivery.id)) is None


def test_retry_now_starts_a_failed_delivery_over(admin, receiver, clock):
    delivery_id = send(receiver.url)  # 127.0.0.1 not allowed yet: refused
    assert row(delivery_id).status == REFUSED
    webhooks_admin.add_host(admin, "127.0.0.1")
    webhooks_admin.retry(admin, delivery_id)
    d = row(delivery_id)
    assert (d.status, d.attempts) == (SENT, 1)
    assert len(receiver.requests) == 1


def test_others_writing_while_the_request_runs_do_not_stop_the_outcome(allowed, clock):
    """No transaction is held open across the request: a write committed by someone else
    meanwhile (on SQLite, one that would make a stale read transaction unable to write)
    does not stop the attempt from being recorded."""
    receiver = allowed
    engine = db.engine

    def someone_else_writes():
        with engine.begin() as conn:
            table = WebhookAllowedHost.__table__
            conn.execute(table.insert().values(host="meanwhile.internal", created_at=clock.now))

    receiver.on_request = someone_else_writes
    d = row(send(receiver.url))
    assert (d.status, d.attempts) == (SENT, 1)
