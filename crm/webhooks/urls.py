"""Which URLs a webhook may call, and the address it connects to.

A webhook is a request the server makes on someone's behalf, so it must not become a way
into the server's own network (server-side request forgery): only ``http``/``https``, no
user name or password in the URL, a host that resolves, and every address it resolves to
public, unless an administrator put the host on the allowed list
(``webhook_allowed_hosts``). ``check_url`` runs when a URL is saved; the delivery job runs
``vet`` again right before each attempt and then connects to the very address it checked
(``Target.address``), never resolving the name a second time: a DNS answer that changes
between the check and the connection (DNS rebinding) cannot slip a private address in.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import select

from crm.extensions import db
from crm.webhooks.models import URL_CHARS, WebhookAllowedHost

SCHEMES = {"http": 80, "https": 443}
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # IPv4 addresses reached through a NAT64 gateway
# Problem codes: a "resolve" problem may pass (DNS is down); the others are final.
SCHEME, CREDENTIALS, MALFORMED, RESOLVE, PRIVATE = (
    "scheme", "credentials", "malformed", "resolve", "private",
)  # fmt: skip


@dataclass(frozen=True)
class Problem:
    """Why a URL may not be called: a ``code`` (above) and a message for people."""

    code: str
    message: str


@dataclass(frozen=True)
class Target:
    """A URL that passed: where to connect (``address``, checked) and what to ask for."""

    scheme: str
    host: str  # as written in the URL (the Host header, the TLS server name)
    port: int
    path: str  # path and query
    addresses: tuple[str, ...] = field(default_factory=tuple)

    @property
    def address(self) -> str:
        """The checked address the request connects to."""
        return self.addresses[0]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6). Raises ``OSError`` when it
    does not resolve. Tests replace it to stay off the network."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: str) -> bool:
    """True when ``address`` is a public unicast address: not private, loopback,
    link-local, multicast, reserved, unspecified or otherwise not globally reachable,
    looking through IPv4-mapped (``::ffff:127.0.0.1``), NAT64, 6to4 and Teredo IPv6 forms."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and ip in NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None and not is_public(str(inner)):
            return False
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def normalise_host(host: str) -> str:
    """A host name as the allowed list stores and compares it: lower case, no trailing
    dot, no brackets around an IPv6 address."""
    return host.strip().strip("[]").rstrip(".").lower()


def allowed_hosts() -> set[str]:
    """The host names an administrator allows to be private."""
    return set(db.session.scalars(select(WebhookAllowedHost.host)))


def vet(url: str, *, lookup: bool = True) -> tuple[Target | None, list[Problem]]:
    """Check ``url`` for a webhook: the target to connect to, or None with every problem.
    ``lookup=False`` checks what can be checked without DNS (a literal address is still
    checked), for a request that must not wait on a name server."""
    text = (url or "").strip()
    if not text or len(text) > URL_CHARS or any(ord(c) < 33 or c == "\\" for c in text):
        return None, [
            Problem(MALFORMED, _("Enter a full web address, like https://example.com/hook."))
        ]
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None, [Problem(MALFORMED, _("This web address cannot be read."))]
    problems: list[Problem] = []
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        problems.append(Problem(SCHEME, _("Webhooks can only call http:// or https:// addresses.")))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        problems.append(
            Problem(
                CREDENTIALS,
                _(
                    "Remove the user name and password from the address; "
                    "use the signing secret instead."
                ),
            )
        )
    host = normalise_host(parts.hostname or "")
    if not host:
        problems.append(Problem(MALFORMED, _("The address has no host name.")))
    if problems:
        return None, problems
    port = port or SCHEMES[scheme]
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    allowed = host in allowed_hosts()
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    elif not lookup:
        return Target(scheme, host, port, path), []
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            addresses = []
        if not addresses:
            return None, [Problem(RESOLVE, _("The host %(host)s cannot be found.", host=host))]
    if not allowed:
        private = [a for a in addresses if not is_public(a)]
        if private:
            return None, [
                Problem(
                    PRIVATE,
                    _(
                        "The host %(host)s is a private or local address (%(address)s). "
                        "Webhooks only call public addresses unless an administrator "
                        "allows this host.",
                        host=host,
                        address=private[0],
                    ),
                )
            ]
    return Target(scheme, host, port, path, tuple(addresses)), []


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_url(url: str) -> list[str]:
    """The problems, for people, that stop ``url`` from being a webhook's address (empty
    when it may be called now). Resolves the host: call it when a URL is saved."""
    return [p.message for p in vet(url)[1]]
