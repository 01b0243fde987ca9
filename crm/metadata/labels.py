"""Labels in every language: checking the translations an administrator types, and the
specs a reader of one language sees.

Every label an administrator types (entity singular and plural, field label and help
text, picklist values, layout section titles, list view names, role and department names)
has a plain text, in the company's default language, and optional translations, one per
language (``crm.i18n.LANGUAGES``). Keys never change; only labels do. A reader sees the
translation into their language when there is one, else the plain label
(``crm.i18n.pick``).

The runtime gets this without asking: ``specs.current()`` hands a request the specs of its
language (``localize_entity``, computed once per metadata version and language), whose
``label``/``label_plural``/``help_text``/choice labels are already the reader's. Writers
(the schema service, the designer's edit screens) read the plain ones (``specs.raw()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from flask_babel import gettext as _

from crm.i18n import LANGUAGES, pick
from crm.metadata.keys import MAX_LABEL, N_, clean_label
from crm.metadata.spec import EMPTY, Choice, EntitySpec, FieldSpec

# The parts of each kind of row that have translations (the keys of its ``translations``).
ENTITY_PARTS = ("singular", "plural")
FIELD_PARTS = ("label", "help")
NAME_PARTS = ("name",)  # list views, roles, departments
MAX_HELP = 2000

_MESSAGES = {
    "text": N_("The %(language)s translation must be text."),
    "nul": N_("The %(language)s translation contains a NUL character."),
    "long": N_("The %(language)s translation is too long: use at most %(max)d characters."),
    "locale": N_("“%(code)s” is not a language of this CRM."),
    "shape": N_("The translations were not sent in the expected shape."),
}


def freeze(raw: Mapping[str, Any] | None) -> MappingProxyType:
    """An immutable copy of ``{part: {locale: text}}`` (or ``{locale: text}``), for specs."""
    if not raw:
        return EMPTY
    return MappingProxyType(
        {k: (freeze(v) if isinstance(v, Mapping) else v) for k, v in sorted(raw.items())}
    )


def thaw(frozen: Mapping[str, Any] | None) -> dict:
    """A JSON-ready copy of ``freeze``'s result (for rows and the change log)."""
    if not frozen:
        return {}
    return {k: (thaw(v) if isinstance(v, Mapping) else v) for k, v in frozen.items()}


def check(raw: Any, *, limit: int = MAX_LABEL) -> tuple[dict[str, str], list[str]]:
    """One label's translations (``{locale: text}``) cleaned like the plain label, and
    their problems: not a mapping, an unknown language, not text, a NUL, too long. Empty
    texts are dropped (an empty translation is none). Any script is welcome, right-to-left
    included; pages show labels with ``dir="auto"``."""
    if raw in (None, ""):
        return {}, []
    if not isinstance(raw, Mapping):
        return {}, [_(_MESSAGES["shape"])]
    out: dict[str, str] = {}
    problems: list[str] = []
    for locale, text in raw.items():
        if locale not in LANGUAGES:
            problems.append(_(_MESSAGES["locale"], code=str(locale)[:20]))
            continue
        language = LANGUAGES[locale]
        if text is None:
            continue
        if not isinstance(text, str):
            problems.append(_(_MESSAGES["text"], language=language))
            continue
        if "\x00" in text:
            problems.append(_(_MESSAGES["nul"], language=language))
            continue
        # Labels are cleaned like labels; a help text (longer) keeps its lines.
        cleaned = clean_label(text) if limit <= MAX_LABEL else text.strip()
        if len(cleaned) > limit:
            problems.append(_(_MESSAGES["long"], language=language, max=limit))
        elif cleaned:
            out[locale] = cleaned
    return dict(sorted(out.items())), problems


def check_parts(
    raw: Any, parts: Mapping[str, int]
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """Translations of several labels of one row (``{part: {locale: text}}``; ``parts``
    maps each allowed part to its length limit): the cleaned value without empty parts, and
    problems by part (``"_"`` for the shape)."""
    if raw in (None, ""):
        return {}, {}
    if not isinstance(raw, Mapping) or set(raw) - set(parts):
        return {}, {"_": [_(_MESSAGES["shape"])]}
    out: dict[str, dict[str, str]] = {}
    problems: dict[str, list[str]] = {}
    for part, limit in parts.items():
        cleaned, bad = check(raw.get(part), limit=limit)
        if bad:
            problems[part] = bad
        elif cleaned:
            out[part] = cleaned
    return out, problems


def count(translations: Mapping[str, Any] | None) -> int:
    """How many translations are set (the designer's "Translations (2)")."""
    if not translations:
        return 0
    return sum(count(v) if isinstance(v, Mapping) else int(bool(v)) for v in translations.values())


# -- what a reader of one language sees ----------------------------------------------------


def _localize_choice(c: Choice, locale: str) -> Choice:
    text = pick(c.label, c.labels, locale)
    return c if text == c.label else replace(c, label=text)


def localize_field(f: FieldSpec, locale: str) -> FieldSpec:
    """``f`` with its label, help text and choice labels in ``locale`` (falling back to
    the plain ones); ``f`` itself when nothing differs."""
    tr = f.translations
    label = pick(f.label, tr.get("label"), locale)
    help_text = pick(f.help_text, tr.get("help"), locale)
    choices = tuple(_localize_choice(c, locale) for c in f.choices)
    same = all(a is b for a, b in zip(choices, f.choices, strict=True))
    if label == f.label and help_text == f.help_text and same:
        return f
    return replace(f, label=label, help_text=help_text, choices=choices)


def localize_entity(e: EntitySpec, locale: str) -> EntitySpec:
    """``e`` with every label in ``locale`` (``e`` itself when nothing differs)."""
    tr = e.translations
    singular = pick(e.label_singular, tr.get("singular"), locale)
    plural = pick(e.label_plural, tr.get("plural"), locale)
    fields = tuple(localize_field(f, locale) for f in e.fields)
    same = all(a is b for a, b in zip(fields, e.fields, strict=True))
    if singular == e.label_singular and plural == e.label_plural and same:
        return e
    return replace(e, label_singular=singular, label_plural=plural, fields=fields)


def has_locale(entities: Mapping[str, EntitySpec], locale: str) -> bool:
    """Whether any label of ``entities`` has a translation into ``locale`` (when none has,
    a reader of it sees the plain specs themselves)."""
    for e in entities.values():
        if any(locale in v for v in e.translations.values()):
            return True
        for f in e.fields:
            if any(locale in v for v in f.translations.values()):
                return True
            if any(locale in c.labels for c in f.choices):
                return True
    return False
