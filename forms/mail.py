"""The SMTP settings form and the test e-mail form (the configuration area). Values are
judged by ``crm.notifications.smtp.save``, which names the setting of each refusal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, StopValidation

from forms.base import BaseForm


def _posted(_form, field) -> None:
    """The post names the field: a truncated or forged form must not wipe the settings."""
    if field.raw_data is None or not field.raw_data:
        raise StopValidation(_l("This field is required."))


class SmtpForm(BaseForm):
    host = StringField(
        _l("SMTP host"),
        validators=[_posted, Length(max=253)],
        description=_l("Empty: e-mails are not sent, only kept in the outbox."),
    )
    port = IntegerField(
        _l("Port"),
        validators=[Optional(), NumberRange(min=1, max=65535)],
        description=_l("Empty: 25, 587 with STARTTLS, 465 with SSL/TLS."),
    )
    security = SelectField(_l("Security"), validators=[_posted], validate_choice=False)
    user = StringField(_l("User name"), validators=[Length(max=254)])
    # Write-only: never filled in from the stored value (PasswordField renders it empty).
    password = PasswordField(_l("Password"), validators=[Length(max=500)])
    clear_password = BooleanField(_l("Remove the stored password"))
    from_address = StringField(
        _l("Sender address"), validators=[_posted, Length(max=254)],
        description=_l("The From of every e-mail, such as crm@example.com."),
    )  # fmt: skip


class TestMailForm(BaseForm):
    address = EmailField(_l("Send a test e-mail to"), validators=[DataRequired(), Length(max=254)])
