"""Text types: text, long text, e-mail, phone, web address, auto-number."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import widgets

from crm.metadata.spec import FieldSpec
from crm.metadata.types import importing, l10n
from crm.metadata.types.base import (
    LONG_TEXT_MAX,
    FieldType,
    Option,
    blank,
    escaped,
    fixed,
    int_option,
    text_value,
)
from crm.metadata.types.filters import TEXT_OPS, canon_value, text_filter
from crm.metadata.types.forms import ParsedField, form_field, read_only_field

_PHONE_RE = re.compile(r"[0-9+()./ -]+(?:(?:x|ext\.?) ?[0-9]+)?", re.IGNORECASE)
_HOST_RE = re.compile(r"[\w.-]+|[0-9A-Fa-f:.]+")


def parse_text(spec: FieldSpec, value: Any) -> str | None:
    return text_value(value, multiline=False, limit=int(spec.option("max_length", 255)))


def _parse_long_text(spec: FieldSpec, value: Any) -> str | None:
    return text_value(value, multiline=True, limit=LONG_TEXT_MAX)


def _parse_email(spec: FieldSpec, value: Any) -> str | None:
    s = text_value(value, multiline=False, limit=254)
    if s is None:
        return None
    try:
        return validate_email(s, check_deliverability=False, globally_deliverable=False).normalized
    except EmailNotValidError as exc:
        # The validator explains in English only: other languages get a plain message.
        if l10n.current().locale == l10n.DEFAULT_LOCALE:
            raise ValueError(str(exc)) from None
        raise ValueError(_("Enter a valid email address, such as name@example.com.")) from None


# Plain ASCII addresses, checked without email_validator (a millisecond each: the import
# reads many). Anything else, special-use domains and role mailboxes (which the validator
# lowercases) go through the validator. tests/imports/test_values.py compares the two.
_PLAIN_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})"
)
_SPECIAL_DOMAINS = tuple(SPECIAL_USE_DOMAIN_NAMES)


def import_email(spec: FieldSpec, value: Any) -> str | None:
    """An address from a file: plain ASCII ones as the validator would give them (the
    domain lowercased), anything else through ``_parse_email``."""
    m = _PLAIN_EMAIL.fullmatch(value) if isinstance(value, str) else None
    if m and len(value) <= 254 and len(m["local"]) <= 64:
        local, domain = m["local"], m["domain"].lower()
        if not (local.lower() in _ROLE_MAILBOXES or _special(domain)):
            return f"{local}@{domain}"
    return _parse_email(spec, value)


_ROLE_MAILBOXES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def _special(domain: str) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in _SPECIAL_DOMAINS)


def _parse_phone(spec: FieldSpec, value: Any) -> str | None:
    s = text_value(value, multiline=False, limit=40)
    if s is None:
        return None
    s = " ".join(s.split())
    if not _PHONE_RE.fullmatch(s) or len(s) < 4 or sum(map(str.isdigit, s)) < 4:
        raise ValueError(_("Enter a phone number: at least 4 digits, with + ( ) - . / only."))
    if s.startswith("-"):  # "+1-532-344-1362" that a spreadsheet computed: -2237
        raise ValueError(
            _(
                "A phone number does not start with a minus sign: a spreadsheet may have "
                "computed “+1-555-…” as a sum. Enter the number again."
            )
        )
    return s


def _parse_url(spec: FieldSpec, value: Any) -> str | None:
    s = text_value(value, multiline=False, limit=2048)
    if s is None:
        return None
    message = _("Enter a web address starting with http:// or https://.")
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


def _parse_auto_number(spec: FieldSpec, value: Any) -> None:
    if not blank(value):
        raise ValueError(_("This number is assigned automatically."))
    return None


def _auto_number_value(ftype, field: FieldSpec, op: str, text: str, lenient: bool):
    """A filter on an auto-number compares with the text as typed (never assigned here)."""
    parsed = text_value(text, multiline=False, limit=255)
    return parsed, parsed


def _prefix_problems(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str) or len(value) > 20 or re.search(r"[\x00-\x1f\x7f]", value):
        return [_("Use at most 20 characters, on one line.")]
    return []


# --- record-page HTML (``text`` is the escaped-to-be text; every piece escaped) --------------


def _url_html(spec: FieldSpec, value: Any, text: str, names, target_url) -> str:
    v = escaped(value)
    return f'<a href="{v}" rel="noopener noreferrer nofollow" target="_blank">{v}</a>'


def _email_html(spec: FieldSpec, value: Any, text: str, names, target_url) -> str:
    v = escaped(value)
    return f'<a href="mailto:{v}">{v}</a>'


def _long_text_html(spec: FieldSpec, value: Any, text: str, names, target_url) -> str:
    return f'<span class="pre">{escaped(value)}</span>'


_TEXTUAL = {
    "textual": True, "operators": TEXT_OPS, "filter_sql": text_filter, "storage": "string",
    "aggregates": ("count",),
}  # fmt: skip

ENTRIES = (
    FieldType(
        key="text", label=_l("Text"),
        description=_l("One line of text, such as a name or a code."),
        position=10, **_TEXTUAL,
        sa_type=lambda s: sa.String(int(s.option("max_length", 255))),
        form_field=form_field(ParsedField, widgets.TextInput(),
                              maxlength=lambda s: s.option("max_length", 255)),
        widget="text", parse=parse_text, can_name_records=True, names_new_entities=True,
        parse_import=importing.text(parse_text),
        options=(
            Option("max_length", _l("Maximum length"), "number", int_option(1, 10_000), 255),
        ),
    ),
    FieldType(
        key="long_text", label=_l("Long text"),
        description=_l("Several lines of text, such as notes or a description."),
        position=20, **{**_TEXTUAL, "storage": "text"},
        sa_type=fixed(sa.Text), form_field=form_field(ParsedField, widgets.TextArea()),
        widget="textarea", parse=_parse_long_text, html=_long_text_html,
        parse_import=importing.text(_parse_long_text, one_line=False),
        sortable=False, can_be_unique=False,
    ),
    FieldType(
        key="email", label=_l("Email"), description=_l("An email address."), position=120,
        **_TEXTUAL,
        sa_type=fixed(sa.String, 254), form_field=form_field(ParsedField, widgets.EmailInput()),
        widget="email", parse=_parse_email, html=_email_html, can_name_records=True, holds="email",
        parse_import=importing.text(import_email, one_line=False),
    ),
    FieldType(
        key="phone", label=_l("Phone"), description=_l("A phone number."), position=130,
        **_TEXTUAL,
        sa_type=fixed(sa.String, 40), form_field=form_field(ParsedField, widgets.TelInput()),
        widget="tel", parse=_parse_phone, can_name_records=True, holds="phone",
        parse_import=importing.text(_parse_phone, one_line=False),
    ),
    FieldType(
        key="url", label=_l("Web address"),
        description=_l("A link to a web page (http or https)."),
        position=140, **_TEXTUAL,
        sa_type=fixed(sa.String, 2048), form_field=form_field(ParsedField, widgets.URLInput()),
        widget="url", parse=_parse_url, html=_url_html, can_name_records=True, holds="website",
        parse_import=importing.text(_parse_url, one_line=False),
    ),
    FieldType(
        key="auto_number", label=_l("Auto-number"),
        description=_l("A number given to each new record, such as INV-0042."),
        position=170, **_TEXTUAL,
        sa_type=fixed(sa.String, 64), form_field=read_only_field, widget="text",
        parse=_parse_auto_number, filter_value=_auto_number_value, index_by_default=True,
        can_name_records=True, assigned=True,
        options=(
            Option("prefix", _l("Prefix"), "text", _prefix_problems, "", lambda v: v or ""),
            Option("padding", _l("Digits"), "number", int_option(0, 12), 0),
        ),
    ),
)  # fmt: skip

__all__ = ["ENTRIES", "canon_value", "parse_text"]
