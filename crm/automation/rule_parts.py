"""What the checks of an automation rule share: the problems collected, keyed by where
they are, the limits, and reading whole numbers and ids from untrusted input."""

from __future__ import annotations

from typing import Any

from crm.ids import as_id

TRIGGERS = ("created", "updated", "changed", "stage_entered", "stage_left", "date", "held")
HELD = ("no_activity", "in_stage")
ACTIONS = ("set", "assign", "task", "notify", "email", "webhook", "pool")
MAX_REASON = 500
HOW = ("round_robin", "least_loaded")
MAX_ACTIONS = 20
MAX_CONDITIONS = 20
MAX_RECIPIENTS = 50
MAX_SET = 50
MAX_DAYS = 3650
MAX_DESCRIPTION = 2000
MAX_URL = 2000
MAX_SECRET = 200
MAX_DB_ID = 2**31 - 1


class Problems:
    """Problems keyed by where they are (the keys of ``ValidationFailed.errors``)."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, where: str, text: str) -> None:
        self.errors.setdefault(where, []).append(str(text))

    def extend(self, where: str, texts: list[str]) -> bool:
        for t in texts:
            self.add(where, t)
        return bool(texts)


def whole_number(value: Any, low: int, high: int) -> int | None:
    """``value`` (an int or ASCII digits, maybe signed) when it is a whole number from
    ``low`` to ``high``; None otherwise (booleans and other types included)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not text.lstrip("-").isascii() or not text.lstrip("-").isdigit() or len(text) > 6:
            return None
        number = int(text)
    return number if low <= number <= high else None


def db_id(value: Any) -> int | None:
    """``value`` as an id a 32-bit key column can hold (1..2**31-1), or None."""
    number = as_id(value)
    return number if number is not None and number <= MAX_DB_ID else None
