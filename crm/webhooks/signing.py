"""Signing webhook bodies, and how a receiver checks a signature.

Every attempt carries ``X-Atelier-Timestamp`` (Unix seconds) and ``X-Atelier-Signature:
sha256=<hex>``, the HMAC-SHA256, keyed with the webhook's secret, of the bytes
``<timestamp>.<body>``. A receiver recomputes it over the raw body it received, compares
in constant time, and rejects timestamps too far from its own clock (a replayed request
carries an old one); ``verify`` does all three::

    from crm.webhooks.signing import verify
    ok = verify(secret, request.headers["X-Atelier-Timestamp"], request.get_data(),
                request.headers["X-Atelier-Signature"])
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

PREFIX = "sha256="
TOLERANCE_SECONDS = 300


def body_of(payload: Any) -> bytes:
    """The request body for ``payload``: compact JSON in UTF-8, keys sorted, so every
    attempt of a delivery sends the same bytes. Raises ``TypeError`` or ``ValueError``
    for what JSON cannot hold (objects, NaN)."""
    text = json.dumps(
        payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return text.encode()


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Atelier-Signature`` value for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    return PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: int | str,
    body: bytes,
    signature: str,
    *,
    tolerance: int | None = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when ``signature`` is ``body``'s at ``timestamp`` under ``secret`` and, unless
    ``tolerance`` is None, ``timestamp`` is within ``tolerance`` seconds of ``now``.
    Never raises for malformed input: it is simply not valid."""
    try:
        stamp = int(str(timestamp).strip())
    except ValueError:
        return False
    if tolerance is not None:
        current = time.time() if now is None else now
        if abs(current - stamp) > tolerance:
            return False
    if not isinstance(signature, str) or not isinstance(body, bytes | bytearray):
        return False
    return hmac.compare_digest(sign(secret, stamp, bytes(body)), signature.strip())
