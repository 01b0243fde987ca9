"""Outgoing webhooks: signed deliveries retried with back-off and logged (``service``), the
URL rules that keep them off private networks (``urls``), the configuration area's log
and allowed hosts (``admin``, ``views``)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register the webhook screens' blueprint."""
    from crm.webhooks.views import bp

    app.register_blueprint(bp)
