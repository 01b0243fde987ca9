"""What every access service does first and last.

Each public service of ``crm.access`` that writes is an ``access_change``: one unit of
work that commits when the service returns and drops the request's cached rights after
the commit, so the next check reads the new roles, grants and departments. It checks
``require_manager`` (or ``require_admin``) before reading its input and validates
everything before writing anything; ``fail`` and ``refuse`` raise, and the unit rolls
back, so a refused change leaves no trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, ParamSpec, TypeVar

from flask_babel import gettext as _

from crm.access import policy
from crm.access.policy import Rights
from crm.errors import Forbidden, ValidationFailed
from crm.uow import unit_of_work

P = ParamSpec("P")
R = TypeVar("R")


def require_manager(actor: Any) -> Rights:
    """The actor's rights; ``Forbidden`` unless they may manage access."""
    if not policy.can(actor, policy.MANAGE_ACCESS):
        raise Forbidden(_("You cannot manage users, roles or departments."))
    return policy.rights(actor)


def require_admin(actor: Any, refusal: str) -> Rights:
    """The actor's rights; ``Forbidden`` with ``refusal`` (what only full administrators
    can do, as a whole sentence) unless they are a full administrator."""
    rights = require_manager(actor)
    if not rights.is_admin:
        raise Forbidden(str(refusal))
    return rights


def access_change(service: Callable[P, R]) -> Callable[P, R]:
    """Run ``service`` as one unit of work: committed when it returns, rolled back when
    it raises; the rights cached in this request are forgotten after the commit."""

    @functools.wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with unit_of_work(after_commit=[policy.forget]):
            return service(*args, **kwargs)

    return run


def fail(message: str, errors: dict[str, list[str]] | None = None) -> NoReturn:
    """Raise ``ValidationFailed`` (the service's unit rolls back: nothing is kept)."""
    raise ValidationFailed(message, errors={k: v for k, v in (errors or {}).items() if v})


def refuse(message: str, errors: dict[str, list[str]] | None = None) -> NoReturn:
    """Raise ``Forbidden`` with the reasons (the service's unit rolls back)."""
    raise Forbidden(message, errors={k: v for k, v in (errors or {}).items() if v})
