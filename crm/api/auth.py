"""Who calls the API: the person of the bearer token, and nobody else.

Only ``Authorization: Bearer <token>`` authenticates; cookies are never read (a browser
page cannot spend its session on the API, so the API needs no CSRF token). The token's
person becomes Flask-Login's ``current_user`` for the request, so the access policy, the
scoped queries and the field rights treat the call exactly as that person's pages.

``writes`` refuses read-only tokens (403); ``for_entity`` refuses an entity outside the
token's list (403)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request
from flask_babel import gettext as _

from crm.api.models import ApiToken
from crm.errors import DomainError, Forbidden

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UNSET = object()


class Unauthenticated(DomainError):
    status = 401


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_token() -> ApiToken | None:
    """The live token of this request (looked up once per request), or None."""
    found = g.get("api_token", _UNSET)
    if found is _UNSET:
        from crm.api import tokens

        secret = _bearer()
        found = tokens.authenticate(secret) if secret else None
        g.api_token = found
    return found


def authenticate_request() -> None:
    """Before every API view: set the token's person as the request's user, or raise
    ``Unauthenticated`` (401). A read-only token is refused any write method (403)."""
    token = current_token()
    if token is None:
        if _bearer() is None:
            raise Unauthenticated(
                _(
                    "Send a valid API token as 'Authorization: Bearer <token>'. "
                    "Cookies are not accepted."
                )
            )
        raise Unauthenticated(_("This token is unknown, revoked or expired."))
    # Flask-Login keeps the request's user on g: the token's person, never the session's.
    g._login_user = token.user
    if token.read_only and request.method in WRITE_METHODS:
        raise Forbidden(_("This token is read-only."))


def allows_entity(token: ApiToken | None, entity_key: str) -> bool:
    """True when ``token`` is not limited to some entities, or ``entity_key`` is one."""
    return token is None or not token.entities or entity_key in token.entities


def require_entity(entity_key: str) -> None:
    """Raise ``Forbidden`` when the request's token is limited to other entities."""
    if not allows_entity(current_token(), entity_key):
        raise Forbidden(_("This token may not be used on this entity."))


def writes(view: Callable[..., Any]) -> Callable[..., Any]:
    """A view that changes data: refused (403) to read-only tokens, whatever its method."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = current_token()
        if token is None or token.read_only:
            raise Forbidden(_("This token is read-only."))
        return view(*args, **kwargs)

    return wrapper


def for_entity(view: Callable[..., Any]) -> Callable[..., Any]:
    """A view taking ``entity_key``: refused (403) when the token is limited to others."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_entity(kwargs.get("entity_key", ""))
        return view(*args, **kwargs)

    return wrapper
