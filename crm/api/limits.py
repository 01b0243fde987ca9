"""Per-token rate limits (Flask-Limiter): Redis when ``REDIS_URL`` is set (shared by every
worker), memory otherwise. Only the API blueprint is limited (``API_RATE_LIMIT``, a
Flask-Limiter string such as "120 per minute")."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter

from crm.api import auth

limiter = Limiter(key_func=lambda: request.remote_addr or "-", default_limits=[])

DEFAULT_LIMIT = "120 per minute"
_limited: set[str] = set()


def token_key() -> str:
    """The limit's key: the token's id once authenticated, else the client address (so
    failed guesses are limited too)."""
    token = auth.current_token()
    if token is not None:
        return f"token:{token.id}"
    return f"anon:{request.remote_addr or '-'}"


def _limit() -> str:
    return current_app.config.get("API_RATE_LIMIT") or DEFAULT_LIMIT


def init_app(app: Flask, bp: Blueprint) -> None:
    """Bind the limiter to ``app`` and limit every route of ``bp`` per token."""
    redis_url = app.config.get("REDIS_URL") or ""
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "atelier-api")
    limiter.init_app(app)
    # The limiter (and its blueprint limits) lives as long as the process; each app built
    # (tests build many) only binds its own storage.
    if bp.name not in _limited:
        limiter.limit(_limit, key_func=token_key)(bp)
        _limited.add(bp.name)
