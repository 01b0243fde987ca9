"""The base form: Flask-WTF's CSRF, and a way to put service errors next to their fields."""

from __future__ import annotations

from flask_wtf import FlaskForm


class BaseForm(FlaskForm):
    """All forms derive from this, so CSRF protection can never be forgotten."""

    def add_errors(self, errors: dict[str, list[str]]) -> None:
        """Attach errors from a service (``ValidationFailed.errors``) to the fields."""
        for name, messages in errors.items():
            field = getattr(self, name, None)
            if field is None:
                self.form_errors.extend(messages)
            else:
                field.errors = [*list(field.errors or []), *messages]
