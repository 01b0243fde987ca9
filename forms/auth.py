"""Sign-in, first-run, password and language forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, StopValidation

from crm import i18n
from forms.base import BaseForm

PASSWORDS_DIFFER = _l("The passwords differ.")
AT_LEAST_10 = _l("At least 10 characters.")


class SignInForm(BaseForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class FirstAdminForm(BaseForm):
    display_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(min=10, max=256)],
        description=AT_LEAST_10,
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=PASSWORDS_DIFFER)],
    )


class ChangePasswordForm(BaseForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=10, max=256)],
        description=_l("At least 10 characters. You stay signed in here; other sessions end."),
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=PASSWORDS_DIFFER)],
    )


class PreferencesForm(BaseForm):
    """A person's interface language and time zone; empty follows the browser/company."""

    locale = SelectField(_l("Language"), validate_choice=False)
    timezone = SelectField(_l("Time zone"), validate_choice=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = [("", _l("As my browser says")), *i18n.LANGUAGES.items()]
        self.timezone.choices = [
            ("", _l("The company's time zone")),
            *((z, z) for z in i18n.timezones()),
        ]


def _sent(_form, field) -> None:
    """The post names the field (its value, even empty, is the service's to judge)."""
    if not field.raw_data:
        raise StopValidation(_l("This field is required."))


class CompanyDefaultsForm(BaseForm):
    """The company's default language and time zone (the configuration area). Values are
    judged by the service (``crm.auth.service.set_company_defaults``), which names the
    field of each refusal."""

    # InputRequired: a post that does not send a field (a forged or truncated form) is
    # refused; it must not save the values the form was pre-filled with.
    locale = SelectField(
        _l("Default language"),
        validators=[_sent],
        validate_choice=False,
        description=_l(
            "For people who have not chosen a language and whose browser asks for none "
            "that Atelier CRM speaks."
        ),
    )
    timezone = SelectField(
        _l("Default time zone"),
        validators=[_sent],
        validate_choice=False,
        description=_l("For people who have not chosen a time zone of their own."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = list(i18n.LANGUAGES.items())
        self.timezone.choices = [(z, z) for z in i18n.timezones()]
