"""The colour palette for entities and picklist values.

Colours are names, not hex codes: our CSS styles each (``.c-<name>``), which keeps the
Content-Security-Policy free of inline styles and every colour legible on light backgrounds.
The keys are stored and typed in packages; people see ``COLOUR_NAMES`` (translated).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

PALETTE: tuple[str, ...] = (
    "gray",
    "slate",
    "red",
    "orange",
    "amber",
    "yellow",
    "lime",
    "green",
    "teal",
    "cyan",
    "blue",
    "indigo",
    "violet",
    "pink",
    "brown",
)

# What a colour picker shows for each key, in the request's language.
COLOUR_NAMES = {
    "gray": _l("Gray"),
    "slate": _l("Slate"),
    "red": _l("Red"),
    "orange": _l("Orange"),
    "amber": _l("Amber"),
    "yellow": _l("Yellow"),
    "lime": _l("Lime"),
    "green": _l("Green"),
    "teal": _l("Teal"),
    "cyan": _l("Cyan"),
    "blue": _l("Blue"),
    "indigo": _l("Indigo"),
    "violet": _l("Violet"),
    "pink": _l("Pink"),
    "brown": _l("Brown"),
}


def colour_choices() -> list[tuple[str, str]]:
    """``(key, name)`` of every palette colour, in palette order, names translated now."""
    return [(key, str(COLOUR_NAMES[key])) for key in PALETTE]
