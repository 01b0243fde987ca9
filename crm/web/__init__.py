"""Web plumbing shared by every blueprint: security headers, error pages, htmx helpers
(``htmx``), template filters and globals (``templating``), navigation."""

from __future__ import annotations

from flask import Flask

from crm.web.errors import register_error_handlers
from crm.web.headers import register_security_headers


def register_web(app: Flask) -> None:
    """Install the security headers and the error handlers on ``app`` (templates get their
    globals from ``crm.web.templating.register``)."""
    register_security_headers(app)
    register_error_handlers(app)
