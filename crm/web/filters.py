"""Jinja filters and globals."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import Flask


def datetime_short(value: datetime | None) -> str:
    """``2026-11-23 14:05`` (UTC), or an empty string."""
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def urlencode_without(args, *names: str) -> str:
    """The query string of ``args`` (a MultiDict) without ``names`` (escaped)."""
    return urlencode([(k, v) for k, v in args.items(multi=True) if k not in names])


def register_filters(app: Flask) -> None:
    """Install the filters on ``app``'s Jinja environment."""
    from crm.metadata import types
    from crm.metadata.palette import PALETTE
    from crm.records.present import record_urls
    from crm.records.rows import render_rows

    app.jinja_env.filters["datetime_short"] = datetime_short
    app.jinja_env.filters["urlencode_without"] = urlencode_without
    app.jinja_env.globals["field_types"] = types.REGISTRY
    app.jinja_env.globals["palette"] = PALETTE
    app.jinja_env.globals["record_rows"] = render_rows
    app.jinja_env.globals["record_urls"] = record_urls
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
