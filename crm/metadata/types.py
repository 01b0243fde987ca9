"""The field-type registry: the one place that knows what a field type is.

Each entry of ``REGISTRY`` says, for one type key, how its column is stored, which form field
edits it, how raw input is parsed and how a stored value is shown, which filter operators it
offers and which type options it takes. Adding a type means adding one ``FieldType`` entry.

Parsing is shared by forms, imports and the API, so its messages are written for people:
they are shown as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from types import FunctionType, MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement
from wtforms import BooleanField, Field, SelectField, SelectMultipleField, StringField, widgets
from wtforms.utils import unset_value
from wtforms.validators import Optional, StopValidation

from crm.metadata.keys import KEY_RE
from crm.metadata.spec import FieldSpec
from crm.timeutil import utcnow

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
NUMERIC_PRECISION = 18
LONG_TEXT_MAX = 100_000
SEARCH_TERM_MAX = 1000
ON_DELETE = ("clear", "restrict", "cascade")

TEXT_OPS = ("contains", "equals", "not_equals", "starts_with", "empty", "not_empty")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between", "empty", "not_empty")
DATE_OPS = ("eq", "before", "after", "between", "relative", "empty", "not_empty")
RELATIVE_RANGES = (
    "today", "yesterday", "this_week", "last_week", "this_month", "last_month",
    "this_quarter", "this_year", "last_7_days", "last_30_days", "next_30_days",
)  # fmt: skip

_INT_RE = re.compile(r"[+-]?[0-9]+")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
_PHONE_RE = re.compile(r"[0-9+()./ -]+(?:(?:x|ext\.?) ?[0-9]+)?", re.IGNORECASE)
_HOST_RE = re.compile(r"[\w.-]+|[0-9A-Fa-f:.]+")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_SPACES = dict.fromkeys(map(ord, " \u00a0\u2009\u202f"))  # spaces people put in numbers
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


@dataclass(frozen=True)
class FieldType:
    """Everything the application knows about one field type.

    ``sa_type`` and ``form_field`` build the column type and an unbound WTForms field for a
    field; ``parse`` turns raw input (form, CSV, API, or an already-typed value) into the
    stored value, ``None`` for blank, ValueError with a message for people otherwise;
    ``format`` shows a stored value ("" for None); ``storage`` names the storage family.
    """

    key: str
    label: str
    description: str
    sa_type: Callable[[FieldSpec], sa.types.TypeEngine]
    form_field: Callable[[FieldSpec], Any]
    widget: str
    parse: Callable[[FieldSpec, Any], Any]
    format: Callable[[FieldSpec, Any], str]
    operators: tuple[str, ...]
    index_by_default: bool
    default_options: Mapping[str, Any]
    storage: str


# --- parsing -------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any, *, multiline: bool, limit: int) -> str | None:
    """Outer whitespace stripped; control characters and over-long text refused."""
    if _blank(value):
        return None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("Enter text.")
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    elif "\n" in value or "\r" in value:
        raise ValueError("Use a single line (no line breaks).")
    if _CONTROL.search(value):
        raise ValueError("Remove the control characters (such as NUL) from this text.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("This text contains characters that cannot be stored.") from None
    value = value.strip()
    if len(value) > limit:
        raise ValueError(f"Use at most {limit:,} characters.")
    return value or None


def _parse_text(spec: FieldSpec, value: Any) -> str | None:
    return _text(value, multiline=False, limit=int(spec.option("max_length", 255)))


def _parse_long_text(spec: FieldSpec, value: Any) -> str | None:
    return _text(value, multiline=True, limit=LONG_TEXT_MAX)


def _search_term(value: Any) -> str:
    term = _text(value, multiline=False, limit=SEARCH_TERM_MAX)
    if term is None:
        raise ValueError("Enter a value to search for.")
    return term


def _parse_integer(spec: FieldSpec, value: Any) -> int | None:
    if _blank(value):
        return None
    if isinstance(value, str):
        s = value.strip().translate(_SPACES)
        if not _INT_RE.fullmatch(s):
            raise ValueError("Enter a whole number.")
        if len(s.lstrip("+-").lstrip("0")) > 19:
            raise ValueError(f"Enter a number between {BIGINT_MIN:,} and {BIGINT_MAX:,}.")
        n = int(s)
    elif isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, Decimal | float):
        try:
            d = _decimal(value)
        except ValueError:
            raise ValueError("Enter a whole number.") from None
        if d != d.to_integral_value():
            raise ValueError("Enter a whole number.")
        if abs(d) > BIGINT_MAX + 1:
            raise ValueError(f"Enter a number between {BIGINT_MIN:,} and {BIGINT_MAX:,}.")
        n = int(d)
    else:
        raise ValueError("Enter a whole number.")
    if not BIGINT_MIN <= n <= BIGINT_MAX:
        raise ValueError(f"Enter a number between {BIGINT_MIN:,} and {BIGINT_MAX:,}.")
    return n


def _decimal(value: Any) -> Decimal:
    """A finite Decimal from a typed number (floats through their shortest repr)."""
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError("Enter a number, such as 1234.50.") from None
    if not d.is_finite():
        raise ValueError("Enter a number, such as 1234.50.")
    return d


def _fit_decimal(spec: FieldSpec, d: Decimal) -> Decimal:
    """``d`` quantized to the field's decimal places, or ValueError when it does not fit."""
    places = int(spec.option("decimal_places", 2))
    whole = NUMERIC_PRECISION - places
    if not d:
        d = Decimal(0)  # also drops the sign of -0 and the exponent of 0E+400
    if d.adjusted() >= whole:
        raise ValueError(f"Enter a number with at most {whole} digits before the decimal point.")
    _, digits, exponent = d.as_tuple()
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    if -int(exponent) - trailing_zeros > places:  # no normalize(): it rounds past 28 digits
        if places == 0:
            raise ValueError("Enter a whole number.")
        raise ValueError(f"Use at most {places} decimal place{'s' if places != 1 else ''}.")
    return d.quantize(Decimal(1).scaleb(-places))


def _parse_decimal(spec: FieldSpec, value: Any) -> Decimal | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError("Enter a number, such as 1234.50.")
    if isinstance(value, str):
        s = value.strip().translate(_SPACES)
        if spec.type == "percent":
            s = s.removesuffix("%")
        elif spec.type == "currency":
            code = str(spec.option("currency", ""))
            s = s.removeprefix(code).removesuffix(code) if code else s
        if len(s) > 60 or not _DECIMAL_RE.fullmatch(s):
            raise ValueError("Enter a number, such as 1234.50.")
        value = Decimal(s)
    return _fit_decimal(spec, _decimal(value))


def _parse_date(spec: FieldSpec, value: Any) -> date | None:
    if _blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    s = str(value).strip()
    if not _DATE_RE.fullmatch(s):
        raise ValueError("Enter a date as YYYY-MM-DD.")
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{s} is not a date.") from None


def _parse_datetime(spec: FieldSpec, value: Any) -> datetime | None:
    if _blank(value):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return datetime.combine(value, time())
    else:
        s = str(value).strip()
        if not _DATETIME_RE.fullmatch(s):
            raise ValueError("Enter a date and time as YYYY-MM-DD HH:MM.")
        try:
            moment = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{s} is not a date and time.") from None
    if moment.tzinfo is not None:  # stored as naive UTC
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _parse_boolean(spec: FieldSpec, value: Any) -> bool | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError("Enter yes or no.")


def _parse_email(spec: FieldSpec, value: Any) -> str | None:
    s = _text(value, multiline=False, limit=254)
    if s is None:
        return None
    try:
        return validate_email(s, check_deliverability=False, globally_deliverable=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


def _parse_phone(spec: FieldSpec, value: Any) -> str | None:
    s = _text(value, multiline=False, limit=40)
    if s is None:
        return None
    s = " ".join(s.split())
    if not _PHONE_RE.fullmatch(s) or len(s) < 4 or sum(c.isdigit() for c in s) < 4:
        raise ValueError("Enter a phone number: at least 4 digits, with + ( ) - . / only.")
    return s


def _parse_url(spec: FieldSpec, value: Any) -> str | None:
    s = _text(value, multiline=False, limit=2048)
    if s is None:
        return None
    message = "Enter a web address starting with http:// or https://."
    if "\\" in s or any(c.isspace() for c in s):
        raise ValueError(message)
    parts = urlsplit(s)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(message)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(message) from None
    if not _HOST_RE.fullmatch(parts.hostname):
        raise ValueError(message)
    return s


def _keys(spec: FieldSpec, value: Any, *, held: tuple[str, ...] = ()) -> list[str]:
    """Choice keys from a list or a comma/semicolon separated string, de-duplicated, in
    choice order. Each must be an active choice (or one of ``held``, already stored)."""
    if isinstance(value, str):
        value = re.split(r"[,;]", value)
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError("Choose from the list.")
    wanted = {str(v).strip() for v in value if not _blank(v)}
    unknown = sorted(wanted - {c.key for c in spec.active_choices} - set(held))
    if unknown:
        raise ValueError(f"“{unknown[0]}” is not one of the choices.")
    return [c.key for c in spec.choices if c.key in wanted]


def _parse_picklist(spec: FieldSpec, value: Any) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise ValueError("Choose from the list.")
    return _keys(spec, [value])[0]


def _parse_multi_picklist(spec: FieldSpec, value: Any) -> list[str] | None:
    if _blank(value):
        return None
    return _keys(spec, value) or None


def _parse_id(what: str) -> Callable[[FieldSpec, Any], int | None]:
    def parse(spec: FieldSpec, value: Any) -> int | None:
        try:
            n = _parse_integer(spec, value)
        except ValueError:
            n = 0
        if n is not None and n <= 0:
            raise ValueError(f"Choose {what}.")
        return n

    return parse


def _parse_auto_number(spec: FieldSpec, value: Any) -> None:
    if not _blank(value):
        raise ValueError("This number is assigned automatically.")
    return None


# --- formatting ----------------------------------------------------------------------------


def _format_str(spec: FieldSpec, value: Any) -> str:
    return "" if value is None else str(value)


def _format_integer(spec: FieldSpec, value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def _format_decimal(spec: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    places = int(spec.option("decimal_places", 2))
    text = f"{_decimal(value):,.{places}f}"
    if spec.type == "currency":
        return f"{text} {spec.option('currency', '')}".rstrip()
    return text


def _format_percent(spec: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    text = f"{_decimal(value):,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} %"


def _format_moment(spec: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    return value.isoformat() if isinstance(value, date) else str(value)


def _format_boolean(spec: FieldSpec, value: Any) -> str:
    return "" if value is None else ("Yes" if value else "No")


def _choice_label(spec: FieldSpec, key: str) -> str:
    choice = spec.choice(key)
    return choice.label if choice is not None else key


def _format_picklist(spec: FieldSpec, value: Any) -> str:
    return "" if value is None else _choice_label(spec, value)


def _format_multi_picklist(spec: FieldSpec, value: Any) -> str:
    return ", ".join(_choice_label(spec, k) for k in value or ())


def input_text(spec: FieldSpec, value: Any) -> str:
    """A stored value as a form input shows it (plain numbers, ISO dates, raw keys)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, Decimal | date):
        return f"{value:f}" if isinstance(value, Decimal) else value.isoformat()
    return str(value)


# --- storage -------------------------------------------------------------------------------


def _numeric(spec: FieldSpec) -> sa.types.TypeEngine:
    return sa.Numeric(NUMERIC_PRECISION, int(spec.option("decimal_places", 2)))


def _json(spec: FieldSpec) -> sa.types.TypeEngine:
    # none_as_null: Python None must be SQL NULL (not the JSON value null) for "empty".
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _fixed(sa_type: type[sa.types.TypeEngine], *args: Any) -> Callable[[FieldSpec], Any]:
    return lambda spec: sa_type(*args)


# --- form fields ---------------------------------------------------------------------------


class ParsedField(Field):
    """A form field whose input goes through the type's ``parse`` (one set of rules for
    forms, imports and the API)."""

    def __init__(self, label=None, validators=None, *, spec: FieldSpec, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.spec = spec

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = None
            self.data = get(self.spec.type).parse(self.spec, valuelist[0])

    def _value(self):
        return self.raw_data[0] if self.raw_data else input_text(self.spec, self.data)


class PicklistField(SelectField):
    """A select of the active choices; a record's archived value stays selectable."""

    def __init__(self, label=None, validators=None, *, spec: FieldSpec, **kwargs):
        choices = [("", "—"), *((c.key, c.label) for c in spec.active_choices)]
        super().__init__(label, validators, choices=choices, validate_choice=False, **kwargs)
        self.spec = spec

    def _held(self) -> tuple[str, ...]:
        held = self.object_data if isinstance(self.object_data, list) else [self.object_data]
        return tuple(k for k in held if isinstance(k, str))

    def process(self, formdata, data=unset_value, extra_filters=None):
        super().process(formdata, data, extra_filters)
        shown = {value for value, *_ in self.choices}
        for key in self._held():
            if key not in shown:
                self.choices.append((key, f"{_choice_label(self.spec, key)} (archived)"))

    def process_data(self, value):
        self.data = value

    def process_formdata(self, valuelist):
        if valuelist and not _blank(valuelist[0]):
            self.data = None
            self.data = _keys(self.spec, [valuelist[0]], held=self._held())[0]
        elif valuelist:
            self.data = None


class MultiPicklistField(PicklistField, SelectMultipleField):
    """A multiple select of the active choices, stored in choice order."""

    def __init__(self, label=None, validators=None, *, spec: FieldSpec, **kwargs):
        super().__init__(label, validators, spec=spec, **kwargs)
        self.choices = self.choices[1:]

    def process_formdata(self, valuelist):
        self.data = None
        self.data = _keys(self.spec, valuelist, held=self._held()) or None


class ReadOnlyField(StringField):
    """Shown, never taken from the form (auto-numbers are assigned by the record service)."""

    def process_formdata(self, valuelist):
        pass


class Required:
    """Refuses a missing value; unlike DataRequired it accepts 0 (and leaves a parse error
    as the only message)."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        if not field.process_errors and field.data in (None, "", []):
            raise StopValidation("This field is required.")


def _form_field(cls: type, widget: Any = None, **render_kw: Any) -> Callable[[FieldSpec], Any]:
    def build(spec: FieldSpec):
        kwargs: dict[str, Any] = {"description": spec.help_text, "spec": spec}
        if widget is not None:
            kwargs["widget"] = widget(spec) if isinstance(widget, FunctionType) else widget
        if render_kw:
            kwargs["render_kw"] = {k: v(spec) if callable(v) else v for k, v in render_kw.items()}
        validators = [Required() if spec.required else Optional()]
        return cls(spec.label, validators=validators, **kwargs)

    return build


def _boolean_field(spec: FieldSpec):
    return BooleanField(spec.label, description=spec.help_text)


def _auto_number_field(spec: FieldSpec):
    return ReadOnlyField(spec.label, description=spec.help_text, render_kw={"readonly": True})


def _number_widget(spec: FieldSpec) -> widgets.NumberInput:
    places = int(spec.option("decimal_places", 2))
    return widgets.NumberInput(step=f"{Decimal(1).scaleb(-places):f}")


# --- the registry --------------------------------------------------------------------------


def _entry(key: str, label: str, description: str, **kw: Any) -> tuple[str, FieldType]:
    kw.setdefault("index_by_default", False)
    kw["default_options"] = MappingProxyType(kw.get("default_options", {}))
    return key, FieldType(key=key, label=label, description=description, **kw)


_lookup_kw = {"data-widget": "lookup", "data-target": lambda s: s.option("target", "")}

REGISTRY: dict[str, FieldType] = dict(
    [
        _entry(
            "text", "Text", "One line of text, such as a name or a code.",
            sa_type=lambda s: sa.String(int(s.option("max_length", 255))),
            form_field=_form_field(ParsedField, widgets.TextInput(),
                                   maxlength=lambda s: s.option("max_length", 255)),
            widget="text", parse=_parse_text, format=_format_str, operators=TEXT_OPS,
            default_options={"max_length": 255}, storage="string",
        ),
        _entry(
            "long_text", "Long text", "Several lines of text, such as notes or a description.",
            sa_type=_fixed(sa.Text), form_field=_form_field(ParsedField, widgets.TextArea()),
            widget="textarea", parse=_parse_long_text, format=_format_str, operators=TEXT_OPS,
            storage="text",
        ),
        _entry(
            "integer", "Whole number", "A whole number, such as a quantity.",
            sa_type=_fixed(sa.BigInteger),
            form_field=_form_field(ParsedField, widgets.NumberInput(step="1")),
            widget="number", parse=_parse_integer, format=_format_integer, operators=NUMBER_OPS,
            storage="integer",
        ),
        _entry(
            "decimal", "Decimal number", "A number with a fixed number of decimal places.",
            sa_type=_numeric, form_field=_form_field(ParsedField, _number_widget),
            widget="number", parse=_parse_decimal, format=_format_decimal, operators=NUMBER_OPS,
            default_options={"decimal_places": 2}, storage="numeric",
        ),
        _entry(
            "currency", "Currency", "An amount of money in one currency.",
            sa_type=_numeric, form_field=_form_field(ParsedField, _number_widget),
            widget="number", parse=_parse_decimal, format=_format_decimal, operators=NUMBER_OPS,
            default_options={"decimal_places": 2, "currency": "EUR"}, storage="numeric",
        ),
        _entry(
            "percent", "Percent", "A percentage: 12.5 means 12.5 %.",
            sa_type=_numeric, form_field=_form_field(ParsedField, _number_widget),
            widget="number", parse=_parse_decimal, format=_format_percent, operators=NUMBER_OPS,
            default_options={"decimal_places": 2}, storage="numeric",
        ),
        _entry(
            "date", "Date", "A calendar day.",
            sa_type=_fixed(sa.Date), form_field=_form_field(ParsedField, widgets.DateInput()),
            widget="date", parse=_parse_date, format=_format_moment, operators=DATE_OPS,
            index_by_default=True, storage="date",
        ),
        _entry(
            "datetime", "Date and time", "A moment: a day and a time of day (stored in UTC).",
            sa_type=_fixed(sa.DateTime),
            form_field=_form_field(ParsedField, widgets.DateTimeLocalInput()),
            widget="datetime-local", parse=_parse_datetime, format=_format_moment,
            operators=DATE_OPS, index_by_default=True, storage="datetime",
        ),
        _entry(
            "boolean", "Yes/No", "A checkbox: yes or no.",
            sa_type=_fixed(sa.Boolean), form_field=_boolean_field, widget="checkbox",
            parse=_parse_boolean, format=_format_boolean,
            operators=("is_true", "is_false", "empty"), storage="boolean",
        ),
        _entry(
            "picklist", "Picklist", "One value chosen from a list you define.",
            sa_type=_fixed(sa.String, 64), form_field=_form_field(PicklistField),
            widget="select", parse=_parse_picklist, format=_format_picklist,
            operators=("in", "not_in", "empty", "not_empty"), storage="string",
        ),
        _entry(
            "multi_picklist", "Multi-select picklist", "Several values chosen from a list.",
            sa_type=_json, form_field=_form_field(MultiPicklistField), widget="multiselect",
            parse=_parse_multi_picklist, format=_format_multi_picklist,
            operators=("contains", "contains_any", "empty", "not_empty"), storage="json",
        ),
        _entry(
            "email", "Email", "An email address.",
            sa_type=_fixed(sa.String, 254),
            form_field=_form_field(ParsedField, widgets.EmailInput()),
            widget="email", parse=_parse_email, format=_format_str, operators=TEXT_OPS,
            storage="string",
        ),
        _entry(
            "phone", "Phone", "A phone number.",
            sa_type=_fixed(sa.String, 40), form_field=_form_field(ParsedField, widgets.TelInput()),
            widget="tel", parse=_parse_phone, format=_format_str, operators=TEXT_OPS,
            storage="string",
        ),
        _entry(
            "url", "Web address", "A link to a web page (http or https).",
            sa_type=_fixed(sa.String, 2048),
            form_field=_form_field(ParsedField, widgets.URLInput()),
            widget="url", parse=_parse_url, format=_format_str, operators=TEXT_OPS,
            storage="string",
        ),
        _entry(
            "lookup", "Lookup", "A link to a record of another entity.",
            sa_type=_fixed(sa.BigInteger),
            form_field=_form_field(ParsedField, widgets.TextInput(), **_lookup_kw),
            widget="lookup", parse=_parse_id("a record"), format=_format_str,
            operators=("eq", "in", "empty", "not_empty"), index_by_default=True,
            default_options={"on_delete": "clear"}, storage="integer",
        ),
        _entry(
            "user", "User", "A person who uses this CRM.",
            sa_type=_fixed(sa.BigInteger),
            form_field=_form_field(ParsedField, widgets.TextInput(), **{"data-widget": "user"}),
            widget="user", parse=_parse_id("a user"), format=_format_str,
            operators=("eq", "in", "is_me", "empty", "not_empty"), index_by_default=True,
            storage="integer",
        ),
        _entry(
            "auto_number", "Auto-number", "A number given to each new record, such as INV-0042.",
            sa_type=_fixed(sa.String, 64), form_field=_auto_number_field, widget="text",
            parse=_parse_auto_number, format=_format_str, operators=TEXT_OPS,
            index_by_default=True, default_options={"prefix": "", "padding": 0},
            storage="string",
        ),
    ]
)  # fmt: skip


def get(type_key: str) -> FieldType:
    """The type registered under ``type_key``; ValueError for an unknown key."""
    try:
        return REGISTRY[type_key]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown field type “{type_key}”.") from None


# --- options -------------------------------------------------------------------------------


def _int_option(options: dict, name: str, low: int, high: int) -> list[str]:
    if name not in options:
        return []
    value = options[name]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        return [f"Enter a whole number from {low:,} to {high:,}."]
    return []


def check_options(type_key: str, options: dict) -> dict[str, list[str]]:
    """Problems with the type options of a field, as ``{option: [messages]}``; ``{}`` when
    they are fine. Options a type does not use are ignored. ValueError for an unknown type."""
    get(type_key)
    problems: dict[str, list[str]] = {}

    def add(name: str, messages: list[str]) -> None:
        if messages:
            problems.setdefault(name, []).extend(messages)

    if "indexed" in options and not isinstance(options["indexed"], bool):
        add("indexed", ["Choose yes or no."])
    if type_key == "text":
        add("max_length", _int_option(options, "max_length", 1, 10_000))
    if type_key in ("decimal", "currency", "percent"):
        add("decimal_places", _int_option(options, "decimal_places", 0, 8))
    if type_key == "currency":
        code = options.get("currency")
        if not isinstance(code, str) or not _CURRENCY_RE.fullmatch(code):
            add("currency", ["Enter a three-letter currency code in capitals, such as EUR."])
    if type_key == "lookup":
        target = options.get("target")
        if not isinstance(target, str) or not KEY_RE.fullmatch(target):
            add("target", ["Choose the entity this field looks up."])
        if options.get("on_delete", "clear") not in ON_DELETE:
            add("on_delete", [f"Choose one of: {', '.join(ON_DELETE)}."])
    if type_key == "auto_number":
        prefix = options.get("prefix", "")
        if not isinstance(prefix, str) or len(prefix) > 20 or re.search(r"[\x00-\x1f\x7f]", prefix):
            add("prefix", ["Use at most 20 characters, on one line."])
        add("padding", _int_option(options, "padding", 0, 12))
    return problems


# --- filters -------------------------------------------------------------------------------


def relative_range(name: str, today: date) -> tuple[date, date]:
    """The days ``[start, end)`` that a relative date filter means on ``today``. Weeks start
    on Monday; "last_N_days" include today, "next_30_days" are today and the 29 days after."""
    day = timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    month = today.replace(day=1)
    quarter = month.replace(month=3 * ((today.month - 1) // 3) + 1)

    def plus_months(d: date, n: int) -> date:
        y, m = divmod(d.month - 1 + n, 12)
        return d.replace(year=d.year + y, month=m + 1)

    ranges = {
        "today": (today, today + day),
        "yesterday": (today - day, today),
        "this_week": (monday, monday + 7 * day),
        "last_week": (monday - 7 * day, monday),
        "this_month": (month, plus_months(month, 1)),
        "last_month": (plus_months(month, -1), month),
        "this_quarter": (quarter, plus_months(quarter, 3)),
        "this_year": (
            today.replace(month=1, day=1),
            today.replace(year=today.year + 1, month=1, day=1),
        ),
        "last_7_days": (today - 6 * day, today + day),
        "last_30_days": (today - 29 * day, today + day),
        "next_30_days": (today, today + 30 * day),
    }
    if name not in ranges:
        raise ValueError(f"Choose one of: {', '.join(RELATIVE_RANGES)}.")
    return ranges[name]


def _one(spec: FieldSpec, value: Any, parse: Callable[[FieldSpec, Any], Any]) -> Any:
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise ValueError("Enter one value for this filter.")
        value = value[0]
    parsed = parse(spec, value)
    if parsed is None:
        raise ValueError("Enter a value for this filter.")
    return parsed


def _many(spec: FieldSpec, value: Any, parse: Callable[[FieldSpec, Any], Any]) -> list[Any]:
    items = value if isinstance(value, list | tuple) else [value]
    parsed = [parse(spec, v) for v in items if not _blank(v)]
    if not parsed:
        raise ValueError("Choose at least one value.")
    return list(dict.fromkeys(parsed))


def _pair(value: Any) -> tuple[Any, Any]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("Enter two values: from and to.")
    if _blank(value[0]) and _blank(value[1]):
        raise ValueError("Enter at least one of the two values.")
    return value[0], value[1]


def _known_key(spec: FieldSpec, value: Any) -> str:
    """A choice key for a filter: archived choices may be searched for too."""
    key = str(value).strip()
    if spec.choice(key) is None:
        raise ValueError(f"“{key}” is not one of the choices.")
    return key


def _span(spec: FieldSpec, value: Any) -> tuple[Any, Any]:
    """A date or moment filter value as ``[start, end)`` in the column's own type. On a
    datetime field a plain date means that whole day."""
    if spec.type == "date":
        d = _one(spec, value, _parse_date)
        return d, d + timedelta(days=1)
    raw = value[0] if isinstance(value, list | tuple) and len(value) == 1 else value
    if isinstance(raw, str) and _DATE_RE.fullmatch(raw.strip()):
        d = _parse_date(spec, raw)
        return datetime.combine(d, time()), datetime.combine(d + timedelta(days=1), time())
    moment = _one(spec, value, _parse_datetime)
    return moment, moment + timedelta(microseconds=1)


def _text_filter(spec: FieldSpec, col: Any, op: str, value: Any) -> ColumnElement:
    if op == "empty":
        return sa.or_(col.is_(None), col == "")
    if op == "not_empty":
        return sa.and_(col.is_not(None), col != "")
    if op == "contains":
        return col.icontains(_one(spec, value, lambda s, v: _search_term(v)), autoescape=True)
    if op == "starts_with":
        return col.istartswith(_one(spec, value, lambda s, v: _search_term(v)), autoescape=True)
    parse = get(spec.type).parse if spec.type != "auto_number" else lambda s, v: _search_term(v)
    term = _one(spec, value, parse)
    return col == term if op == "equals" else sa.or_(col != term, col.is_(None))


def _number_filter(spec: FieldSpec, col: Any, op: str, value: Any) -> ColumnElement:
    parse = get(spec.type).parse
    if op == "between":
        low, high = _pair(value)
        parts = []
        if not _blank(low):
            parts.append(col >= _one(spec, low, parse))
        if not _blank(high):
            parts.append(col <= _one(spec, high, parse))
        return sa.and_(*parts)
    n = _one(spec, value, parse)
    compare = {
        "eq": col == n, "gt": col > n, "gte": col >= n, "lt": col < n, "lte": col <= n,
        "ne": sa.or_(col != n, col.is_(None)),
    }  # fmt: skip
    return compare[op]


def _date_filter(spec: FieldSpec, col: Any, op: str, value: Any) -> ColumnElement:
    if op == "relative":
        name = value[0] if isinstance(value, list | tuple) and len(value) == 1 else value
        start, end = relative_range(str(name), utcnow().date())
        if spec.type == "datetime":
            start, end = datetime.combine(start, time()), datetime.combine(end, time())
        return sa.and_(col >= start, col < end)
    if op == "between":
        low, high = _pair(value)
        parts = []
        if not _blank(low):
            parts.append(col >= _span(spec, low)[0])
        if not _blank(high):
            parts.append(col < _span(spec, high)[1])
        return sa.and_(*parts)
    start, end = _span(spec, value)
    if op == "before":
        return col < start
    if op == "after":
        return col >= end
    return sa.and_(col >= start, col < end)


def _multi_filter(spec: FieldSpec, col: Any, op: str, value: Any, dialect: str) -> ColumnElement:
    if dialect == "postgresql":
        doc = sa.type_coerce(col, postgresql.JSONB(none_as_null=True))
        has_items = sa.and_(
            sa.func.jsonb_typeof(col) == "array", doc != sa.type_coerce([], doc.type)
        )

        def contains(key: str) -> ColumnElement:
            return doc.contains([key])  # `@>`, which a GIN index serves

    elif dialect == "sqlite":
        has_items = sa.and_(sa.func.json_type(col) == "array", sa.func.json_array_length(col) > 0)

        def contains(key: str) -> ColumnElement:
            items = sa.func.json_each(col).table_valued("value")
            return sa.exists(
                sa.select(sa.literal(1)).select_from(items).where(items.c.value == key)
            )

    else:
        raise ValueError(f"Multi-select filters are not supported on {dialect}.")
    if op == "empty":
        return sa.or_(col.is_(None), sa.not_(has_items))
    if op == "not_empty":
        return sa.and_(col.is_not(None), has_items)
    if op == "contains":
        return contains(_one(spec, value, _known_key))
    return sa.or_(*(contains(k) for k in _many(spec, value, _known_key)))


def build_filter(
    spec: FieldSpec,
    column: ColumnElement,
    op: str,
    value: Any,
    *,
    dialect_name: str,
    user_id: int | None = None,
) -> ColumnElement:
    """A SQL condition "``column`` ``op`` ``value``" for a field, with bound parameters only.

    ``value`` is raw input (a string, or a list of strings for "in", "between" ...) and is
    parsed by the field's type. "not_equals", "ne" and "not_in" also match empty values
    (what people mean by "is not"). Raises ValueError with a message for people when the
    operator does not apply to the type or the value does not parse.
    """
    ftype = get(spec.type)
    if op not in ftype.operators:
        raise ValueError(f"“{op}” is not a filter for {ftype.label} fields.")
    if ftype.operators == TEXT_OPS:
        return _text_filter(spec, column, op, value)
    if ftype.operators == NUMBER_OPS:
        if op in ("empty", "not_empty"):
            return column.is_(None) if op == "empty" else column.is_not(None)
        return _number_filter(spec, column, op, value)
    if ftype.operators == DATE_OPS:
        if op in ("empty", "not_empty"):
            return column.is_(None) if op == "empty" else column.is_not(None)
        return _date_filter(spec, column, op, value)
    if spec.type == "multi_picklist":
        return _multi_filter(spec, column, op, value, dialect_name)
    if op == "empty":
        return column.is_(None)
    if op == "not_empty":
        return column.is_not(None)
    if op == "is_true":
        return column.is_(True)
    if op == "is_false":
        return column.is_(False)
    if op in ("in", "not_in") and spec.type == "picklist":
        keys = _many(spec, value, _known_key)
        return column.in_(keys) if op == "in" else sa.or_(column.not_in(keys), column.is_(None))
    if op == "is_me":
        if user_id is None:
            raise ValueError("“Is me” needs a signed-in user.")
        return column == user_id
    if op == "in":
        return column.in_(_many(spec, value, ftype.parse))
    return column == _one(spec, value, ftype.parse)


# --- type changes --------------------------------------------------------------------------

_STRINGS = ("text", "long_text", "email", "phone", "url", "picklist", "auto_number")
_NUMBERS = ("decimal", "currency", "percent")

# (from, to) -> "lossless" | "checked". Only changes whose SQL cast (PostgreSQL ``USING
# col::type``; SQLite's batch copy with CAST) keeps every value that convert_value accepts.
# Not here on purpose: dates <-> text or datetimes (SQLite's CAST turns "2025-03-01" into
# 2025), decimals -> text (PostgreSQL writes "12.50", SQLite "12.5"), multi-select picklists.
SAFE_CONVERSIONS: dict[tuple[str, str], str] = {
    **{(s, "long_text"): "lossless" for s in _STRINGS if s != "long_text"},
    **{(s, "text"): "checked" for s in _STRINGS if s != "text"},
    **{("text", t): "checked" for t in ("email", "phone", "url", "picklist", "integer")},
    **{("text", t): "checked" for t in _NUMBERS},
    ("integer", "text"): "checked",
    ("integer", "long_text"): "lossless",
    **{("integer", t): "checked" for t in _NUMBERS},
    **{(n, "integer"): "checked" for n in _NUMBERS},
    **{(a, b): "checked" for a in _NUMBERS for b in _NUMBERS if a != b},
}


def convert_value(from_spec: FieldSpec, to_spec: FieldSpec, value: Any) -> Any:
    """The value a stored ``value`` of ``from_spec`` becomes as ``to_spec`` (what the column
    holds after the type change). Raises ValueError when it would not convert exactly, and
    for a change that is not in SAFE_CONVERSIONS. The preflight counts those values."""
    if value is None:
        return None
    old, new = from_spec.type, to_spec.type
    if old != new and (old, new) not in SAFE_CONVERSIONS:
        raise ValueError(f"A {get(old).label} field cannot be changed to {get(new).label}.")
    if new in _STRINGS:  # the cast keeps the text as it is; the new type must accept it
        text = value if isinstance(value, str) else str(_parse_integer(from_spec, value))
        parsed = get(new).parse(to_spec, text) if new != "auto_number" else text
        if new == "picklist" and parsed != text:
            raise ValueError(f"“{text}” is not one of the choices.")
        limit = getattr(get(new).sa_type(to_spec), "length", None)
        if limit is not None and len(text) > limit:
            raise ValueError(f"Use at most {limit:,} characters.")
        return text
    if isinstance(value, str):  # only what the database's cast reads the same way
        if new == "integer" and not _INT_RE.fullmatch(value.strip()):
            raise ValueError("Enter a whole number.")
        if not _DECIMAL_RE.fullmatch(value.strip()):
            raise ValueError("Enter a number, such as 1234.50.")
        value = Decimal(value.strip())
    if new == "integer":
        return _parse_integer(to_spec, value)
    if new in _NUMBERS:
        return _fit_decimal(to_spec, _decimal(value))
    return get(new).parse(to_spec, value)
