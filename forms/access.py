"""Forms of the access screens. They parse input only; the services in ``crm.access``
judge its meaning (unknown keys, escalation). A form reads only the fields it declares,
so an extra posted field (``is_admin=1`` where it is not offered) changes nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    PasswordField,
    RadioField,
    SearchField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from crm.access import policy
from crm.ids import parse_id
from forms.auth import AT_LEAST_10, PASSWORDS_DIFFER
from forms.base import BaseForm

NO_CHOICE = ""


def optional_id(value: str | None) -> int | None:
    """A select's value as an id ("" means none). Values were checked against the choices."""
    return parse_id(value, what="choice") if value not in (None, NO_CHOICE) else None


# The input names of a name's "Translations" control: "tr_name.<locale>".
NAME_TRANSLATIONS = "tr_name"
_MAX_TRANSLATION_INPUTS = 10


def name_translations(data: Any) -> dict[str, dict[str, Any]] | None:
    """The translations of a role's or department's name as posted (inputs
    ``tr_name.<locale>``), shaped as the services take them (``{"name": {locale:
    text}}``), or None when the post has none (a save then keeps the stored ones).
    Every ``tr_name.`` input counts, an unknown language included: the services say
    it is not one (at most a handful are read, a hostile post cannot make more work)."""
    prefix = NAME_TRANSLATIONS + "."
    found: dict[str, Any] = {}
    for key in data:
        if key.startswith(prefix) and len(found) < _MAX_TRANSLATION_INPUTS:
            found[key[len(prefix) :]] = data.get(key)
    return {"name": found} if found else None


def name_translation_values(data: Any, stored: Any) -> dict[str, str]:
    """What a name's "Translations" control shows: as posted in ``data`` (a form that
    failed), else as ``stored`` (the row's ``translations``)."""
    posted = name_translations(data) if data else None
    if posted is not None:
        return {k: v for k, v in posted["name"].items() if isinstance(v, str)}
    found = stored.get("name") if isinstance(stored, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def levels_for(action: str) -> tuple[int, ...]:
    """Create and import are not about existing records: allowed or not."""
    if action in policy.UNSCOPED_ACTIONS:
        return (policy.NONE, policy.ALL)
    return policy.LEVELS


def grant_name(entity_key: str, action: str) -> str:
    """The input name of one matrix cell ("-" never occurs in keys or actions)."""
    return f"g-{entity_key}-{action}"


def field_name(field_key: str) -> str:
    return f"f-{field_key}"


FULL_ADMIN = _l("Full administrator (every right, including this one)")


class RoleSettingsForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    can_configure = BooleanField(_l("Opens the configuration area (entities, fields, layouts)"))
    can_manage_access = BooleanField(
        _l("Manages users, roles and departments (within its own rights)")
    )


def _matrix_fields(entity_keys: Iterable[str]) -> dict[str, SelectField]:
    fields = {}
    for key in (policy.ANY_ENTITY, *entity_keys):
        for action in policy.AVAILABLE_ACTIONS:
            fields[grant_name(key, action)] = SelectField(
                _l("%(action)s (%(key)s)", action=policy.ACTION_LABELS[action], key=key),
                choices=[(str(lv), policy.LEVEL_LABELS[lv]) for lv in levels_for(action)],
            )
    return fields


def grants_form(entity_keys: Iterable[str]) -> type[BaseForm]:
    """A form with one select per (entity or "*") and action."""
    return type("GrantsForm", (BaseForm,), _matrix_fields(entity_keys))


def new_role_form(entity_keys: Iterable[str]) -> type[BaseForm]:
    """Settings and the matrix in one form, for a new role."""
    return type("NewRoleForm", (RoleSettingsForm,), _matrix_fields(entity_keys))


def grants_data(
    form: BaseForm, entity_keys: Iterable[str], kept: Any = None
) -> dict[tuple[str, str], int]:
    """The validated matrix as (entity key, action) -> level. Actions the matrix does not
    offer (features not there yet) keep the level the role holds (``kept``, a
    ``RoleRights``; none for a new role), so saving the matrix never drops them."""
    keys = (policy.ANY_ENTITY, *entity_keys)
    data = {
        (key, action): int(form[grant_name(key, action)].data)
        for key in keys
        for action in policy.AVAILABLE_ACTIONS
    }
    for action in policy.ACTIONS:
        if action not in policy.AVAILABLE_ACTIONS:
            for key in keys:
                data[(key, action)] = kept.level(key, action) if kept is not None else policy.NONE
    return data


def field_rights_form(field_keys: Iterable[str]) -> type[BaseForm]:
    """One hidden / read-only / editable choice per field of an entity."""
    choices = [(a, policy.FIELD_LABELS[a]) for a in policy.FIELD_ACCESS]
    return type(
        "FieldRightsForm",
        (BaseForm,),
        {field_name(k): RadioField(k, choices=choices) for k in field_keys},
    )


class RoleDeleteForm(BaseForm):
    move_to = SelectField(_l("Give its users this role instead"), choices=[], default=NO_CHOICE)


class DepartmentForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    parent = SelectField(_l("Inside"), choices=[])
    manager = SelectField(_l("Manager"), choices=[])


class DepartmentEditForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    manager = SelectField(_l("Manager"), choices=[])


class DepartmentMoveForm(BaseForm):
    parent = SelectField(_l("New place"), choices=[])


class UserForm(BaseForm):
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    department = SelectField(_l("Department"), choices=[])
    roles = SelectMultipleField(_l("Roles"), choices=[], coerce=int)


class AdminUserForm(UserForm):
    is_admin = BooleanField(FULL_ADMIN)


class NewUserForm(UserForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])


class AdminNewUserForm(NewUserForm):
    is_admin = BooleanField(FULL_ADMIN)


class UserFilterForm(BaseForm):
    """The user list's search line (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    q = SearchField(_l("Search"), validators=[Optional(), Length(max=200)])
    department = SelectField(_l("Department"), choices=[], default=NO_CHOICE)
    role = SelectField(_l("Role"), choices=[], default=NO_CHOICE)
    status = SelectField(
        _l("Status"),
        default=NO_CHOICE,
        choices=[
            ("", _l("Any status")),
            ("active", _l("Active")),
            ("invited", _l("Invitation pending")),
            ("inactive", _l("Deactivated")),
        ],
    )


class InviteForm(BaseForm):
    password = PasswordField(
        _l("Choose a password"),
        validators=[
            DataRequired(),
            Length(min=10, max=256, message=_l("Use between 10 and 256 characters.")),
        ],
        description=AT_LEAST_10,
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=PASSWORDS_DIFFER)],
    )


class AuditFilterForm(BaseForm):
    """The access audit log's filters (a GET form: no CSRF token). Choices of person and
    kind are set by the view; dates are whole days, both included."""

    class Meta:
        csrf = False

    person = SelectField(_l("Person"), choices=[], default=NO_CHOICE)
    kind = SelectField(_l("Kind"), choices=[], default=NO_CHOICE)
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])

    def validate_until(self, field) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_("The end date comes before the start date."))
