"""The REST API (issue 20): personal tokens (``tokens``, ``models``), token
authentication (``auth``), problem details (``problems``), per-token rate limits
(``limits``), the routes under ``/api/v1/`` (``views``) and the token pages
(``views_tokens``)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register the API blueprint (CSRF-exempt: it reads no cookie), its limits, and the
    token pages."""
    from crm.api import limits, views, views_tokens
    from crm.extensions import csrf

    app.config.setdefault("API_MAX_BYTES", views.DEFAULT_MAX_BYTES)
    csrf.exempt(views.bp)
    limits.init_app(app, views.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(views_tokens.bp)
    app.register_blueprint(views_tokens.admin_bp)
