"""Ids read from requests, parsed in one place with the bounds the databases can store.

Every id is a positive 64-bit integer (1 .. 2^63-1). ``parse_id`` turns a query argument, a
form value or a service argument into one, or refuses with a message for people
(``ValidationFailed``, a 400), so no ``OverflowError`` from a driver, no negative or zero id
and no other script's digits ever reach a query. URL segments use the ``<id:...>``
converter of ``crm.web.ids``, which answers 404 for the same values.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.errors import ValidationFailed

MAX_ID = 2**63 - 1
# ASCII digits only: str.isdigit() and int() accept other scripts' digits ("١٢")
DIGITS = re.compile(r"[0-9]{1,19}")
# The refusal per kind of reference callers name (``what``), whole sentences to translate;
# any other ``what`` is put into a general one.
INVALID = {
    "record": _l("That record reference is not valid: use the link or choice offered."),
    "user": _l("That user reference is not valid: use the link or choice offered."),
    "choice": _l("That choice reference is not valid: use the link or choice offered."),
    "list view": _l("That list view reference is not valid: use the link or choice offered."),
}


def as_id(value: Any) -> int | None:
    """``value`` as an id (an int, or a string of ASCII digits, surrounding spaces allowed),
    or None when it is not one: empty, signed, zero, not digits, or above 2^63-1."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip() if value is not None else ""
        if not DIGITS.fullmatch(text):
            return None
        number = int(text)
    return number if 1 <= number <= MAX_ID else None


def parse_id(value: Any, *, what: str = "record", field: str = "id") -> int:
    """``value`` as an id; raises ``ValidationFailed`` (400, keyed by ``field``) naming
    ``what`` when it is not a valid one."""
    number = as_id(value)
    if number is None:
        known = INVALID.get(what)
        if known is not None:
            message = str(known)
        else:
            message = _(
                "That %(what)s reference is not valid: use the link or choice offered.", what=what
            )
        raise ValidationFailed(message, errors={field: [message]})
    return number


def optional_id(value: Any, *, what: str = "record", field: str = "id") -> int | None:
    """Like ``parse_id``, but None for a missing or empty value."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_id(value, what=what, field=field)


# System tables' primary keys are 32-bit integers: a larger id names no row, and must not
# reach PostgreSQL (which refuses it as out of range instead of finding nothing).
MAX_ROW_ID = 2**31 - 1


def row_of(model: Any, value: Any) -> Any:
    """The row of the system table ``model`` whose id is ``value``, or None when there is
    none or ``value`` is not an id such a table can hold (not an int, or outside
    1 .. 2^31-1), without asking the database then."""
    from crm.extensions import db

    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROW_ID:
        return None
    return db.session.get(model, value)
