"""The access policy: the only place that answers "may this user do this".

``can`` / ``require`` answer for actions; ``scope`` (records) and ``visible_fields`` join
them when roles arrive (issue 6). Until then a signed-in, active user holds every data
right, and the configuration area needs the administrator right.
"""

from __future__ import annotations

from typing import Any

from crm.errors import Forbidden

CONFIGURE = "configure"
DATA_ACTIONS = frozenset(
    {"create", "read", "edit", "delete", "export", "import", "bulk_edit", "assign"}
)


def can(user: Any, action: str, entity: str | None = None, record: Any = None) -> bool:
    """True when ``user`` may do ``action`` (on ``entity``/``record`` where given)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not getattr(user, "is_active", False):
        return False
    if action == CONFIGURE:
        return bool(getattr(user, "is_admin", False))
    if action in DATA_ACTIONS:
        return True
    raise ValueError(f"Unknown action {action!r}")


def require(user: Any, action: str, entity: str | None = None, record: Any = None) -> None:
    """Raise ``Forbidden`` unless ``can(...)``."""
    if not can(user, action, entity, record):
        raise Forbidden()


def scope(user: Any, entity: Any, action: str, table: Any):
    """The SQL condition limiting ``table`` (an entity table) to the records ``user`` may
    ``action``. Every record query applies it (``crm.records.query``). Until roles exist:
    every record for an active user, none otherwise."""
    from sqlalchemy import false, true

    return true() if can(user, action, getattr(entity, "key", entity)) else false()


def visible_fields(user: Any, entity: Any, mode: str = "read") -> tuple:
    """The fields of ``entity`` that ``user`` may see (``mode="read"``) or change
    (``mode="edit"``). Until field rights exist: every active field (auto-numbers are
    never editable)."""
    fields = tuple(entity.active_fields)
    if mode == "edit":
        return tuple(f for f in fields if f.type != "auto_number")
    return fields
