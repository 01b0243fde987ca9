"""Web plumbing shared by every blueprint: security headers, error pages, htmx helpers
(``htmx``), template filters and globals (``templating``), navigation."""

from __future__ import annotations

from flask import Flask

from crm.web.errors import register_error_handlers
from crm.web.headers import register_security_headers
from crm.web.ids import register_converters
from crm.web.inputs import register_input_checks


def register_web(app: Flask) -> None:
    """Install the ``<id:...>`` URL converter, the query checks (no NUL characters), the
    security headers and the error handlers on ``app`` (templates get their globals from
    ``crm.web.templating.register``)."""
    register_converters(app)
    register_input_checks(app)
    register_security_headers(app)
    register_error_handlers(app)
