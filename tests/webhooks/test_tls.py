"""https webhooks connect to the checked address yet verify the certificate against the
host name as written: a local TLS receiver with a certificate for ``hooks.test`` only."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest

from crm.extensions import db
from crm.uow import unit_of_work
from crm.webhooks import admin as webhooks_admin
from crm.webhooks import service, transport
from crm.webhooks.models import QUEUED, SENT, WebhookDelivery
from tests.webhooks.conftest import serving

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is missing")


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=hooks.test",
         "-addext", "subjectAltName=DNS:hooks.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)

    def trusting() -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(cert))
        return context

    monkeypatch.setattr(transport, "tls_context", trusting)
    with serving(server_side) as state:
        yield state


def send(url: str) -> WebhookDelivery:
    with unit_of_work():
        delivery_id = service.queue(url, "deal.won", {"id": 1}, "k").id
    db.session.rollback()
    return db.session.get(WebhookDelivery, delivery_id)


def test_https_to_the_checked_address_with_the_certificate_of_the_name(
    admin, dns, clock, tls_receiver
):
    dns["hooks.test"] = ["127.0.0.1"]
    webhooks_admin.add_host(admin, "hooks.test")
    webhooks_admin.add_host(admin, "127.0.0.1")
    d = send(f"https://hooks.test:{tls_receiver.port}/in")
    assert (d.status, d.last_status_code) == (SENT, 200)
    assert tls_receiver.requests[0]["headers"]["Host"] == f"hooks.test:{tls_receiver.port}"
    # the same server by its address: the certificate does not name it, nothing is sent
    d = send(f"https://127.0.0.1:{tls_receiver.port}/in")
    assert (d.status, d.last_status_code) == (QUEUED, None)
    assert "SSL" in d.last_error or "certificate" in d.last_error
    assert len(tls_receiver.requests) == 1
