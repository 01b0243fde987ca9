"""Web plumbing shared by every blueprint: headers, errors, filters, navigation."""

from __future__ import annotations

from flask import Flask

from crm.web.errors import register_error_handlers
from crm.web.filters import register_filters
from crm.web.headers import register_security_headers


def register_web(app: Flask) -> None:
    """Install the cross-cutting web behaviour on ``app``."""
    register_security_headers(app)
    register_error_handlers(app)
    register_filters(app)
