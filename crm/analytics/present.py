"""Words and numbers of analytics pages in the reader's language."""

from __future__ import annotations

from datetime import date

from babel.dates import format_skeleton
from flask_babel import get_locale


def month_label(day: date | None) -> str:
    """A month as the reader's language writes it ("Dec 2026", "2026年12月", "dic 2026")."""
    if day is None:
        return ""
    return format_skeleton("yMMM", day, locale=get_locale() or "en")
