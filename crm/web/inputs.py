"""Checks every request's query arguments go through before any view.

A NUL character is never valid in a search, a filter, a page link or an id: PostgreSQL
cannot hold it in a text value and SQLite's full-text tables stop at it. A query argument
carrying one is refused here, once, with a message for people (a 400), instead of failing
wherever the value happens to be read. Form fields are not refused here: each form says
which field is wrong (the field types refuse control characters, ``types.base``).
"""

from __future__ import annotations

from flask import Flask, request
from flask_babel import lazy_gettext as _l

from crm.errors import ValidationFailed

NUL_MESSAGE = _l("Text cannot contain a NUL character (\\0). Remove it and try again.")


def refuse_nul_characters() -> None:
    """Raise ``ValidationFailed`` (400) when a query argument (name or value) holds a NUL."""
    for key, values in request.args.lists():
        if "\x00" in key or any("\x00" in v for v in values):
            message = str(NUL_MESSAGE)
            raise ValidationFailed(message, errors={"request": [message]})


def register_input_checks(app: Flask) -> None:
    """Run ``refuse_nul_characters`` before every view."""
    app.before_request(refuse_nul_characters)
