"""The base form: Flask-WTF's CSRF, and a way to put service errors next to their fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_wtf import FlaskForm

from forms.errors import attach_errors


class BaseForm(FlaskForm):
    """All forms derive from this, so CSRF protection can never be forgotten."""

    def add_errors(self, errors: Mapping[str, Iterable[str]]) -> None:
        """Attach errors from a service (``ValidationFailed.errors``) to the fields their
        keys name (``forms.errors.attach_errors``); the others go above the form."""
        self.form_errors.extend(attach_errors(self, errors))
