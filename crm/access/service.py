"""What every access service does first and last.

Each public service of ``crm.access`` checks ``require_manager`` (or ``require_admin``)
before reading its input, validates everything before writing anything, and ends with
``done()``: one commit, and the request's cached rights dropped so the next check reads
the new roles, grants and departments. On any error the session is rolled back by the
caller's error handler (or by ``fail``), so a refused change leaves no trace.
"""

from __future__ import annotations

from typing import Any, NoReturn

from crm.access import policy
from crm.access.policy import Rights
from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db


def require_manager(actor: Any) -> Rights:
    """The actor's rights; ``Forbidden`` unless they may manage access."""
    if not policy.can(actor, policy.MANAGE_ACCESS):
        raise Forbidden("You cannot manage users, roles or departments.")
    return policy.rights(actor)


def require_admin(actor: Any, what: str) -> Rights:
    """The actor's rights; ``Forbidden`` unless they are a full administrator."""
    rights = require_manager(actor)
    if not rights.is_admin:
        raise Forbidden(f"Only full administrators can {what}.")
    return rights


def fail(message: str, errors: dict[str, list[str]] | None = None) -> NoReturn:
    """Roll back and raise ``ValidationFailed`` (nothing of the change is kept)."""
    db.session.rollback()
    raise ValidationFailed(message, errors={k: v for k, v in (errors or {}).items() if v})


def refuse(message: str, errors: dict[str, list[str]] | None = None) -> NoReturn:
    """Roll back and raise ``Forbidden`` with the reasons (nothing of the change is kept)."""
    db.session.rollback()
    raise Forbidden(message, errors={k: v for k, v in (errors or {}).items() if v})


def done() -> None:
    """Commit the change and forget the rights cached in this request."""
    db.session.commit()
    policy.forget()
