"""Role and department names in every language.

A role's or department's ``name`` is its plain name, in the company's default language;
``translations`` holds ``{"name": {locale: text}}`` (``crm.metadata.labels``). People read
the name in their own language when it has a translation (``shown``, and the models'
``display_name``), else the plain name. What is stored as text (audit entries, record
history) keeps the plain name, which reads the same whoever later looks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm.i18n import LANGUAGES, pick, request_locale
from crm.metadata import labels

PART = "name"
# An audit item for one translation: "Name [es]" (shown as "Name (Español)").
_ITEM_HEAD, _ITEM_TAIL = "Name [", "]"


def shown(name: str, translations: Any, locale: str | None = None) -> str:
    """``name`` as a reader of ``locale`` (default: the request's language) reads it."""
    found = translations.get(PART) if isinstance(translations, Mapping) else None
    if not isinstance(found, Mapping):
        found = None
    return pick(name, found, locale if locale is not None else request_locale())


def check(raw: Any, limit: int) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Translations of a name as a service takes them (``{"name": {locale: text}}``),
    cleaned like the name, and their problems in one list (they are shown by the name):
    an unknown language, not text, a NUL, longer than ``limit``."""
    cleaned, problems = labels.check_parts(raw, {PART: limit})
    return cleaned, [*problems.get("_", []), *problems.get(PART, [])]


def audit_items(translations: Any) -> dict[str, str]:
    """One audit item per translation ("Name [es]": "Ventas"), so a change of a
    translation is logged like a change of the name."""
    found = translations.get(PART) if isinstance(translations, Mapping) else None
    if not isinstance(found, Mapping):
        return {}
    return {f"{_ITEM_HEAD}{code}{_ITEM_TAIL}": str(text) for code, text in sorted(found.items())}


def audit_language(item: str) -> str | None:
    """The language (in its own words) an audit item is the name's translation into, or
    None when ``item`` is not one."""
    if item.startswith(_ITEM_HEAD) and item.endswith(_ITEM_TAIL):
        code = item[len(_ITEM_HEAD) : -len(_ITEM_TAIL)]
        return LANGUAGES.get(code, code)
    return None
