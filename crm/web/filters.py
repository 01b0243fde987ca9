"""Jinja filters and globals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from markupsafe import Markup, escape


def datetime_short(value: datetime | None) -> str:
    """``2026-11-23 14:05`` (UTC), or an empty string."""
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def urlencode_without(args, *names: str) -> str:
    """The query string of ``args`` (a MultiDict) without ``names`` (escaped)."""
    return urlencode([(k, v) for k, v in args.items(multi=True) if k not in names])


def options(items: Iterable[tuple[Any, Any]], chosen: Any = None, prefix: str = "") -> Markup:
    """``<option>`` elements for ``(value, label)`` pairs (``prefix`` before each value),
    the one whose value is ``chosen`` selected; everything escaped. A choice of every
    person and department is hundreds of options: a Jinja loop over them cost a panel
    more than its queries."""
    chosen = None if chosen is None else str(chosen)
    out = []
    for value, label in items:
        v = f"{prefix}{value}"
        selected = " selected" if v == chosen else ""
        out.append(f'<option value="{escape(v)}"{selected}>{escape(label)}</option>')
    return Markup("\n".join(out))  # noqa: S704 - every piece escaped


def register_filters(app: Flask) -> None:
    """Install the filters on ``app``'s Jinja environment."""
    from crm.metadata import types
    from crm.metadata.palette import PALETTE
    from crm.records.present import entity_urls, record_urls
    from crm.records.rows import render_rows

    app.jinja_env.filters["datetime_short"] = datetime_short
    app.jinja_env.filters["urlencode_without"] = urlencode_without
    app.jinja_env.globals["field_types"] = types.REGISTRY
    app.jinja_env.globals["palette"] = PALETTE
    app.jinja_env.globals["record_rows"] = render_rows
    app.jinja_env.globals["record_urls"] = record_urls
    app.jinja_env.globals["entity_urls"] = entity_urls
    app.jinja_env.globals["options"] = options
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
