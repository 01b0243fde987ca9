"""Languages and time zones: which the app speaks, and which one each request uses.

The interface language of a request is, in order: the signed-in user's choice (their
preferences page), the browser's ``Accept-Language``, the company's default (set in the
configuration area), English. The time zone: the user's, else the company's, else UTC.
Date-times are stored in naive UTC (``crm.timeutil``) and converted only for display and
input (Flask-Babel's ``to_user_timezone``/``to_utc``).

Locale names follow Babel (``zh_Hans``); HTML and HTTP use BCP 47 tags (``zh-Hans``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask import has_request_context, request
from flask_login import current_user

# The interface languages, each in its own words (how a language picker shows them).
LANGUAGES: Mapping[str, str] = {
    "en": "English",
    "zh_Hans": "中文（简体）",
    "es": "Español",
}
DEFAULT_LOCALE = "en"
DEFAULT_TIMEZONE = "UTC"

# Company defaults, kept in ``app_settings``.
LOCALE_SETTING = "default_locale"
TIMEZONE_SETTING = "default_timezone"
COMPANY_SETTINGS = (LOCALE_SETTING, TIMEZONE_SETTING)

# Browser tags Babel would not map onto our locale names by itself.
_ALIASES = {
    "zh": "zh_Hans",
    "zh_cn": "zh_Hans",
    "zh_sg": "zh_Hans",
    "zh_hans": "zh_Hans",
    "zh_hans_cn": "zh_Hans",
    # Traditional Chinese readers read Simplified far better than a foreign language.
    "zh_tw": "zh_Hans",
    "zh_hk": "zh_Hans",
    "zh_hant": "zh_Hans",
}


def known_locale(value: str | None) -> str | None:
    """``value`` as one of LANGUAGES (``es-MX`` → ``es``, ``zh-CN`` → ``zh_Hans``), or
    None when it names no language the app speaks (or is not a locale at all)."""
    if not value or not isinstance(value, str) or len(value) > 35:
        return None
    tag = value.strip().replace("-", "_").lower()
    if tag in _ALIASES:
        return _ALIASES[tag]
    for name in LANGUAGES:
        if tag == name.lower():
            return name
    base = tag.split("_", 1)[0]
    if base in _ALIASES:
        return _ALIASES[base]
    return base if base in LANGUAGES else None


def html_lang(locale: str) -> str:
    """The BCP 47 tag for ``<html lang>``: ``zh_Hans`` → ``zh-Hans``."""
    return locale.replace("_", "-")


@cache
def timezones() -> tuple[str, ...]:
    """Every IANA time zone name this machine knows, sorted (a picker's choices)."""
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def known_timezone(value: str | None) -> str | None:
    """``value`` when it names an IANA time zone, else None."""
    if not value or not isinstance(value, str) or len(value) > 64:
        return None
    return value if value in set(timezones()) else None


def browser_locale() -> str | None:
    """The best of LANGUAGES for the request's ``Accept-Language``, or None."""
    if not has_request_context():
        return None
    for tag, _quality in request.accept_languages:
        found = known_locale(tag)
        if found:
            return found
    return None


def _company_setting(key: str) -> str | None:
    """A company default, read with the compiled metadata (no query of its own): whoever
    changes one bumps the metadata version (``set_company_defaults``)."""
    from crm.metadata import specs

    return specs.raw().settings.get(key)


def set_company_defaults(*, locale: str | None, timezone: str | None) -> None:
    """Store the company's default language and time zone (None clears one) and bump the
    metadata version so every worker picks them up. Values must already be checked
    (``known_locale``/``known_timezone``); call inside a unit of work."""
    from crm.auth.models import AppSetting
    from crm.extensions import db
    from crm.metadata.versioning import bump_version

    changed = False
    for key, value in ((LOCALE_SETTING, locale), (TIMEZONE_SETTING, timezone)):
        row = db.session.get(AppSetting, key)
        if value is None:
            if row is not None:
                db.session.delete(row)
                changed = True
        elif row is None:
            db.session.add(AppSetting(key=key, value=value))
            changed = True
        elif row.value != value:
            row.value = value
            changed = True
    if changed:  # saving the same values again recompiles nothing anywhere
        db.session.flush()
        bump_version()


def company_locale() -> str:
    return known_locale(_company_setting(LOCALE_SETTING)) or DEFAULT_LOCALE


@contextmanager
def language_of(user: Any) -> Iterator[None]:
    """Words in ``user``'s language (their own, else the company's): for what is written
    for someone outside a request of theirs (a job, another person's action)."""
    from flask_babel import force_locale

    with force_locale(known_locale(getattr(user, "locale", None)) or company_locale()):
        yield


def company_timezone() -> str:
    return known_timezone(_company_setting(TIMEZONE_SETTING)) or DEFAULT_TIMEZONE


def _user() -> Any:
    if not has_request_context():
        return None
    user = current_user._get_current_object() if current_user else None
    return user if getattr(user, "is_authenticated", False) else None


def select_locale() -> str:
    """Flask-Babel's locale selector (see the module's docstring for the order)."""
    user = _user()
    chosen = known_locale(getattr(user, "locale", None)) if user is not None else None
    return chosen or browser_locale() or company_locale()


def select_timezone() -> str:
    """Flask-Babel's time zone selector: the user's, else the company's."""
    user = _user()
    chosen = known_timezone(getattr(user, "timezone", None)) if user is not None else None
    return chosen or company_timezone()


def zone(name: str | None = None) -> ZoneInfo:
    return ZoneInfo(name or select_timezone())


# -- labels an administrator typed, in every language --------------------------------------


def pick(plain: str, translations: Mapping[str, str] | None, locale: str | None) -> str:
    """The label to show a reader of ``locale``: its translation when one is set (non
    empty), else ``plain`` (the label in the company's default language). Keys never
    change, only labels do, so this is the whole of the fallback rule."""
    if translations and locale:
        text = translations.get(locale)
        if text:
            return text
    return plain


def request_locale() -> str | None:
    """The request's interface language as a LANGUAGES key (Flask-Babel caches it per
    request), or None outside a request (command line, jobs: the plain labels)."""
    if not has_request_context():
        return None
    from flask_babel import get_locale

    found = get_locale()
    return str(found) if found is not None else None


def clean_translations(raw: Any) -> dict[str, str]:
    """``{locale: text}`` of a label's translations: unknown locales dropped, texts
    cleaned like labels (``crm.metadata.keys.clean_label``), empty ones dropped (an empty
    translation is none: the plain label shows). Lengths are checked by the callers, who
    know which label it is."""
    from crm.metadata.keys import clean_label

    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, str] = {}
    for locale, text in raw.items():
        if locale in LANGUAGES and isinstance(text, str):
            cleaned = clean_label(text)
            if cleaned:
                out[locale] = cleaned
    return dict(sorted(out.items()))


def label_languages(
    values: Mapping[str, str] | None = None, *, every: bool = False
) -> list[tuple[str, str, bool]]:
    """(code, name in its own words, shown) of the languages a label's "Translations"
    control offers: all but the company's default (the plain label is in it), which shows
    too when a translation into it is stored. ``every``: all languages, the default one
    not shown unless stored (rows of parallel inputs, such as picklist values, need the
    same inputs in every row)."""
    default = company_locale()
    out = []
    for code, name in LANGUAGES.items():
        shown = code != default or bool(values and values.get(code))
        if shown or every:
            out.append((code, name, shown))
    return out
