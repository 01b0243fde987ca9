"""The form that creates a personal API token, and the empty one that revokes it."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from forms.base import BaseForm


class TokenForm(BaseForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=120)],
        description=_l("What the token is for, e.g. the system that uses it."),
    )
    expires = IntegerField(
        _l("Expires after (days)"),
        validators=[Optional(), NumberRange(min=1, max=3650)],
        description=_l("Empty: never expires."),
    )
    read_only = BooleanField(_l("Read-only"))
    entities = SelectMultipleField(
        _l("Only these entities"),
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description=_l("None ticked: every entity you may use."),
    )


class RevokeForm(BaseForm):
    """Only the CSRF token."""
