"""Errors of the API as RFC 9457 problem details (``application/problem+json``):
``type``, ``title``, ``status``, ``detail`` and, for field errors, ``errors``
({field: [messages]}). ``crm.web.errors`` hands every error of a request under ``/api/``
here, routing errors (404, 405) and size limits (413) included; nothing internal is ever
shown."""

from __future__ import annotations

import logging
import math
import time

from flask import Response, current_app, json, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from crm.errors import DomainError

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://atelier-crm.invalid/problems/"

TITLES = {
    400: _l("Bad request"),
    401: _l("Not authenticated"),
    403: _l("Forbidden"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("Request too large"),
    415: _l("Unsupported media type"),
    422: _l("Some values need fixing"),
    429: _l("Too many requests"),
    500: _l("Internal error"),
}
DETAILS = {
    401: _l("Send a valid API token as 'Authorization: Bearer <token>'."),
    404: _l("There is nothing at this address, or you may not see it."),
    405: _l("This address does not take that method."),
    413: _l("The request body is larger than the API accepts."),
    429: _l("This token sent too many requests. Wait and try again."),
    500: _l("The error was logged. Try again in a moment."),
}
SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    500: "internal",
}


def is_api_request() -> bool:
    """True for requests under ``/api/``: they get problem details, never HTML."""
    return request.path.startswith(API_PREFIX)


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: dict[str, list[str]] | None = None,
    title: str | None = None,
) -> Response:
    """A problem-details response with ``status``."""
    known = status if status in TITLES else (500 if status >= 500 else 400)
    body: dict = {
        "type": TYPE_BASE + SLUGS[known],
        "title": str(title or TITLES[known]),
        "status": status,
        "detail": str(detail or DETAILS.get(known) or TITLES[known]),
    }
    if errors:
        body["errors"] = {k: [str(m) for m in v] for k, v in errors.items()}
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def from_exception(exc: Exception) -> Response:
    """The problem details of any error raised while serving an API request."""
    if isinstance(exc, DomainError):
        return problem(exc.status, exc.message, errors=exc.errors or None)
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        response = problem(status)
        if status == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        if status == 429:
            response.headers["Retry-After"] = str(_retry_after())
        return response
    return problem(500)


def _retry_after() -> int:
    """Seconds until the breached limit's window resets (at least 1)."""
    from crm.api.limits import limiter

    try:
        current = limiter.current_limit
        if current is not None:
            return max(1, math.ceil(current.reset_at - time.time()))
    except Exception:  # the storage may be unreachable: a safe default then
        log.warning("Rate limit window unknown", exc_info=True)
    return 60
