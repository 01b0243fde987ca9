"""JSON Schema errors in words for people: each ``jsonschema`` error becomes problems with a
JSON pointer to what is wrong (the offending key itself for a bad or unexpected key) and a
translated message naming the rule (the limit, the accepted values, the key rules)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from jsonschema import ValidationError

from crm.metadata.keys import KEY_RE, N_, key_problems
from crm.packages.problems import Problem, pointer

_TYPE_WORDS = {
    "string": N_("text"),
    "integer": N_("a whole number"),
    "number": N_("a number"),
    "boolean": N_("true or false"),
    "array": N_("a list"),
    "object": N_("an object (named values)"),
    "null": N_("null"),
}

# The schema's patterns, by the pattern text, and what each means.
LABEL_PATTERNS = ("^[^<>",)
_PATTERN_MESSAGES = {
    "^[a-z][a-z0-9_-]{0,63}$": N_(
        "A package name is 1–64 lowercase letters, digits, “-” or “_”, starting with a letter."
    ),
    "^[a-z0-9][a-z0-9_]{0,63}$": N_(
        "A choice key is 1–64 lowercase letters, digits or underscores."
    ),
    "^[a-z0-9][a-z0-9_-]{0,63}$": N_(
        "A seed record's “@key” is 1–64 lowercase letters, digits, “-” or “_”."
    ),
    "^s[0-9]{1,4}$": N_("A section key is “s” followed by up to four digits."),
    "^[a-z]{2,3}(_[A-Za-z]{2,4})?$": N_("“%(value)s” is not a language code."),
    "^[a-z][a-z_]{0,30}$": N_("“%(value)s” is not a filter condition."),
}

# Limits named by what they count: the last key of the path holding the collection.
_MANY = {
    "entities": N_("A package can have at most %(max)d entities; this one has %(count)d."),
    "fields": N_("An entity can have at most %(max)d fields; this one has %(count)d."),
    "roles": N_("A package can have at most %(max)d roles; this one has %(count)d."),
    "pipelines": N_("An entity can have at most %(max)d pipelines; this one has %(count)d."),
    "choices": N_("A field can have at most %(max)d choices; this one has %(count)d."),
    "stages": N_("A pipeline can have at most %(max)d stages; this one has %(count)d."),
}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _key_kind(path: list) -> str:
    parent = path[-1] if path else ""
    return {"entities": "entity key", "fields": "field key"}.get(parent, "key")


def _key_messages(value: Any, path: list) -> list[str]:
    if isinstance(value, str):
        found = key_problems(value, what=_key_kind(path))
        if found:
            return found
    return [_("“%(value)s” is not a valid key.", value=_short(value))]


def _pattern_messages(error: ValidationError, path: list) -> list[str]:
    pattern = error.validator_value
    value = error.instance
    if pattern == KEY_RE.pattern:
        return _key_messages(value, path)
    if isinstance(pattern, str) and pattern.startswith(LABEL_PATTERNS):
        return [_("Labels are plain text: no “<” or “>” and no control characters.")]
    message = _PATTERN_MESSAGES.get(pattern)
    if message:
        return [_(message, value=_short(value))]
    return [_("“%(value)s” is not in the expected form.", value=_short(value))]


def problems(error: ValidationError) -> list[Problem]:
    """The problems one schema error stands for (usually one)."""
    path = list(error.absolute_path)
    kind = error.validator
    value = error.instance
    rule = error.validator_value
    in_names = "propertyNames" in error.relative_schema_path
    if in_names:
        # A bad key: point at the key itself.
        if kind == "pattern":
            messages = _pattern_messages(error, path)
        elif kind == "enum":
            messages = [_("“%(value)s” is not an action a role can have.", value=_short(value))]
        else:
            messages = _key_messages(value, path)
        return [Problem(pointer(*path, value), m) for m in messages]
    where = pointer(*path)
    if kind == "additionalProperties":
        known = error.schema.get("properties", {})
        return [
            Problem(
                pointer(*path, name),
                _("“%(name)s” is not part of the package format here.", name=_short(name)),
            )
            for name in value
            if name not in known
        ]
    if kind == "required":
        return [
            Problem(where, _("“%(name)s” is missing.", name=name))
            for name in rule
            if isinstance(value, dict) and name not in value
        ]
    if kind == "type":
        kinds = rule if isinstance(rule, list) else [rule]
        expected = ", ".join(_(_TYPE_WORDS.get(k, k)) for k in kinds)
        return [Problem(where, _("Expected %(expected)s here.", expected=expected))]
    if kind == "pattern":
        return [Problem(where, m) for m in _pattern_messages(error, path)]
    if kind == "enum":
        return [
            Problem(
                where,
                _(
                    "“%(value)s” is not one of: %(names)s.",
                    value=_short(value),
                    names=", ".join(map(str, rule)),
                ),
            )
        ]
    if kind == "const":
        return [Problem(where, _("Expected “%(value)s” here.", value=_short(rule)))]
    if kind in ("maxProperties", "maxItems"):
        many = _MANY.get(path[-1] if path else "")
        count = len(value)
        if many:
            return [Problem(where, _(many, max=rule, count=count))]
        message = _("At most %(max)d here; there are %(count)d.", max=rule, count=count)
        return [Problem(where, message)]
    if kind == "maxLength":
        return [Problem(where, _("This is too long: use at most %(max)d characters.", max=rule))]
    if kind == "minLength":
        return [Problem(where, _("This cannot be empty."))]
    if kind in ("minItems", "minProperties"):
        if path and path[-1] == "stages":
            return [Problem(where, _("A pipeline needs at least one stage."))]
        return [Problem(where, _("This cannot be empty."))]
    if kind == "minimum":
        return [Problem(where, _("This must be at least %(min)s.", min=rule))]
    if kind == "maximum":
        return [Problem(where, _("This must be at most %(max)s.", max=rule))]
    if kind == "uniqueItems":
        return [Problem(where, _("An item is listed twice."))]
    return [Problem(where, _("This value is not in a form the package format accepts here."))]
