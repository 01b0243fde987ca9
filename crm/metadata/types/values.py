"""The parsing helpers every family of types shares: blank input, text, numbers, whole-number
options; their messages are for people, in the request's language."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from crm.metadata.types import l10n
from crm.metadata.types.l10n import Formats

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Text ``text_value`` takes as it is but for its outer spaces: no line break, no control
# character (tab aside), no lone surrogate (which UTF-8 cannot store).
_PLAIN_LINE = re.compile("[^\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]*")
SEARCH_TERM_MAX = 1000


def blank(value: Any) -> bool:
    """True for None and for text that is only whitespace."""
    return value is None or (isinstance(value, str) and not value.strip())


def text_value(value: Any, *, multiline: bool, limit: int) -> str | None:
    """Outer whitespace stripped; control characters and over-long text refused."""
    if value.__class__ is str and _PLAIN_LINE.fullmatch(value):  # most text: one line,
        value = value.strip()  # no control characters, encodable: only the length to check
        if len(value) > limit:
            raise ValueError(too_long(limit))
        return value or None
    if blank(value):
        return None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(_("Enter text."))
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    elif "\n" in value or "\r" in value:
        raise ValueError(_("Use a single line (no line breaks)."))
    if _CONTROL.search(value):
        raise ValueError(_("Remove the control characters (such as NUL) from this text."))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(_("This text contains characters that cannot be stored.")) from None
    value = value.strip()
    if len(value) > limit:
        raise ValueError(too_long(limit))
    return value or None


def too_long(limit: int) -> str:
    """The message for text over ``limit`` characters, the number written as the user's
    language writes it."""
    return ngettext(
        "Use at most %(count)s character.",
        "Use at most %(count)s characters.",
        limit,
        count=l10n.current().number(limit),
    )


def search_term(value: Any) -> str:
    """A term typed into a search or a "contains" filter; ValueError when blank."""
    term = text_value(value, multiline=False, limit=SEARCH_TERM_MAX)
    if term is None:
        raise ValueError(_("Enter a value to search for."))
    return term


def decimal_value(value: Any) -> Decimal:
    """A finite Decimal from a typed number (floats through their shortest repr)."""
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(not_a_number(l10n.DEFAULT)) from None
    if not d.is_finite():
        raise ValueError(not_a_number(l10n.DEFAULT))
    return d


def not_a_number(formats: Formats | None = None) -> str:
    """The message for text that is no number, its example written as ``formats`` write
    numbers (default: the request's language: 1234.50; 1234,50 in Spanish). The machine
    readers (``parse``) say it with ``l10n.DEFAULT``: the point is what they read."""
    example = (formats or l10n.current()).plain_number(Decimal("1234.50"), 2)
    return _("Enter a number, such as %(example)s.", example=example)


def int_option(low: int, high: int) -> Callable[[Any], list[str]]:
    """A check of a whole-number option between ``low`` and ``high``."""

    def check(value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            fm = l10n.current()
            return [
                _(
                    "Enter a whole number from %(low)s to %(high)s.",
                    low=fm.number(low),
                    high=fm.number(high),
                )
            ]
        return []

    return check
