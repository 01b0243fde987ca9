"""Forms of the webhook screens: an allowed host to add, and the CSRF-only action forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from forms.base import BaseForm


class AllowedHostForm(BaseForm):
    host = StringField(
        _l("Host"),
        validators=[DataRequired(), Length(max=300)],
        description=_l("A host name or address webhooks may call even when it is private."),
    )


class ActionForm(BaseForm):
    """A button that changes something: only the CSRF token."""
