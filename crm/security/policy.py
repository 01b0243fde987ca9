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
