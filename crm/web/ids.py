"""The ``<id:...>`` URL converter: a positive 64-bit id in a URL segment, anything else is
not a page (404). Query arguments and form values go through ``crm.ids.parse_id``."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import BaseConverter, ValidationError

from crm.ids import as_id


class IdConverter(BaseConverter):
    """``<id:name>``: a positive 64-bit id; anything else does not match (404)."""

    regex = r"[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = as_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


def register_converters(app: Flask) -> None:
    """Make ``<id:...>`` available to every blueprint (before their rules are added)."""
    app.url_map.converters["id"] = IdConverter
