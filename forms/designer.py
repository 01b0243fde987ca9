"""Forms of the configuration area. They only parse input; the metadata services validate
the meaning (keys, reserved words, conflicts) and report every problem at once."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crm.i18n import LANGUAGES
from crm.metadata.keys import slug
from crm.metadata.palette import COLOUR_NAMES, PALETTE
from forms.base import BaseForm

COLOR_CHOICES = [("", _l("None")), *((c, COLOUR_NAMES[c]) for c in PALETTE)]


class EntityForm(BaseForm):
    label_singular = StringField(
        _l("Name (singular)"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("What one record is called, e.g. Member, 客户, Cuenta."),
    )
    label_plural = StringField(
        _l("Name (plural)"),
        validators=[Optional(), Length(max=200)],
        description=_l("e.g. Members."),
    )
    key = StringField(
        _l("Key"),
        validators=[Optional(), Length(max=60)],
        description=_l(
            "The permanent identifier used in the database and in packages. "
            "Lowercase letters, digits and underscores; it cannot change later."
        ),
    )
    key_edited = HiddenField(default="")
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    color = SelectField(_l("Colour"), choices=COLOR_CHOICES, validators=[Optional()])
    icon = StringField(
        _l("Icon"),
        validators=[Optional(), Length(max=40)],
        description=_l("An emoji or a short symbol."),
    )


class EntityEditForm(EntityForm):
    name_field = SelectField(_l("Records are named by"), choices=[], validators=[Optional()])


class ConfirmKeyForm(BaseForm):
    confirm_key = StringField(_l("Type the key to confirm"), validators=[DataRequired()])


class FieldForm(BaseForm):
    label = StringField(_l("Label"), validators=[DataRequired(), Length(max=200)])
    key = StringField(
        _l("Key"),
        validators=[Optional(), Length(max=60)],
        description=_l("The column name; it cannot change later."),
    )
    key_edited = HiddenField(default="")
    type = SelectField(_l("Type"), choices=[], validators=[DataRequired()])
    help_text = TextAreaField(_l("Help text"), validators=[Optional(), Length(max=2000)])
    required = BooleanField(_l("Required"))
    unique = BooleanField(_l("Unique (no two records share a value)"))
    searchable = BooleanField(_l("Included in quick search"))
    default = StringField(_l("Default value"), validators=[Optional(), Length(max=2000)])
    max_length = IntegerField(
        _l("Maximum length"), validators=[Optional(), NumberRange(min=1, max=10000)]
    )
    decimal_places = IntegerField(
        _l("Decimal places"), validators=[Optional(), NumberRange(min=0, max=8)]
    )
    currency = StringField(_l("Currency (ISO code)"), validators=[Optional(), Length(max=3)])
    target = SelectField(_l("Looks up"), choices=[], validators=[Optional()])
    on_delete = SelectField(
        _l("When the looked-up record is deleted"),
        choices=[
            ("clear", _l("Clear this field")),
            ("restrict", _l("Refuse the deletion")),
            ("cascade", _l("Delete this record too")),
        ],
        validators=[Optional()],
    )
    prefix = StringField(_l("Number prefix"), validators=[Optional(), Length(max=20)])
    padding = IntegerField(_l("Digits"), validators=[Optional(), NumberRange(min=0, max=12)])


def choices_from_form(data) -> list[dict]:
    """Picklist values from the values editor: parallel lists, in the order shown (the
    administrator reorders rows by dragging). Empty rows are skipped."""
    keys = data.getlist("choice_key")
    labels = data.getlist("choice_label")
    colors = data.getlist("choice_color")
    states = data.getlist("choice_state")
    # Each row carries one input per language ("Translations"), posted as parallel lists.
    translated = {code: data.getlist(f"choice_label.{code}") for code in LANGUAGES}
    out: list[dict] = []
    taken = {k.strip() for k in keys if k and k.strip()}
    for i, key in enumerate(keys[:500]):
        label = labels[i] if i < len(labels) else ""
        if not (key or "").strip() and not (label or "").strip():
            continue
        key = (key or "").strip()
        if not key:  # a new value: its key is made from its label, once, and kept
            key = slug(label, taken=taken)
            taken.add(key)
        out.append(
            {
                "key": key,
                "label": label,
                "color": colors[i] if i < len(colors) else "",
                "archived": (states[i] if i < len(states) else "") == "archived",
                "order": len(out),
            }
        )
        if any(translated.values()):  # else: a post without them keeps the stored ones
            out[-1]["labels"] = {
                code: texts[i] for code, texts in translated.items() if i < len(texts)
            }
    return out


def translations_from(data, name: str) -> dict[str, str] | None:
    """One label's translations from a post (inputs ``<name>.<locale>``, the designer's
    "Translations" control), or None when the post has none of them (then a save keeps
    the stored ones). Values are passed on as typed: the services check and clean them."""
    found = {code: data.get(f"{name}.{code}") for code in LANGUAGES if f"{name}.{code}" in data}
    return found if found else None


def parts_from(data, parts: dict[str, str], stored) -> dict[str, dict[str, str]] | None:
    """The translations of several labels of one row (``parts``: part -> input name),
    those not in the post kept as ``stored``; None when the post has none at all."""
    out = {part: dict(stored.get(part) or {}) for part in parts if stored and part in stored}
    sent = False
    for part, name in parts.items():
        found = translations_from(data, name)
        if found is not None:
            out[part] = found
            sent = True
    return out if sent else None
