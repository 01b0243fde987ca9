"""One HTTP POST to a checked address, with the standard library's ``http.client``.

The connection goes to ``Target.address``, the address ``crm.webhooks.urls.vet`` checked,
while the request names the host as written (``Host`` header, TLS server name and
certificate check): the name is never resolved a second time. ``http.client`` follows no
redirects and reads no proxy settings, so a 3xx answer is an answer (not a success), and
the request goes where it was checked to go.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass

from crm.webhooks.urls import Target

TIMEOUT_SECONDS = 10.0
READ_BYTES = 8192


@dataclass(frozen=True)
class Answer:
    """What the receiver answered: ``status`` and the start of the body (or ``error``
    when there was no answer: the connection failed or timed out)."""

    status: int | None
    excerpt: str = ""
    error: str = ""


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def tls_context() -> ssl.SSLContext:
    """The TLS settings of every https webhook: the system's trusted certificates, the
    certificate checked against the host name (tests trust their own authority here)."""
    return ssl.create_default_context()


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        self._ssl = tls_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._ssl)
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ssl.wrap_socket(raw, server_hostname=self.host)


def post(
    target: Target, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS
) -> Answer:
    """POST ``body`` to ``target`` with ``headers``; never raises for network trouble
    (it is the ``Answer``'s ``error``)."""
    cls = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    conn = cls(target, timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read(READ_BYTES)
        return Answer(response.status, data.decode("utf-8", errors="replace"))
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, error=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        conn.close()
