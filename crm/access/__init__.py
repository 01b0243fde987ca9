"""Access: who may do what, and the screens that administer it.

``models`` (users, departments, roles, grants, field rights, shares, invitations),
``policy`` (the only place that answers "may this user do this"), ``directory`` (people's
names), ``rules`` (no escalation), the services (``users``, ``roles``, ``departments``,
``invites``, ``service``) and their screens (``views_*``). Signing in is ``crm.auth``.

Every route of ``bp`` needs the "manage access" right (checked once, before any view runs,
through the access policy). Within it, the services apply the no-escalation rule of
``crm.access.rules``: an access manager who is not a full administrator never grants a
right they do not hold. ``invite_bp`` is the one public page: accepting an invitation.
"""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_login import current_user, login_required

from crm.access import policy

bp = Blueprint("access", __name__, url_prefix="/admin/access")
invite_bp = Blueprint("invite", __name__)


@bp.before_request
@login_required
def _manage_access_required():
    policy.require(current_user, policy.MANAGE_ACCESS)


def register(app: Flask) -> None:
    """Import the view modules (they attach routes) and register the blueprints."""
    from crm.access import (  # noqa: F401
        views_audit,
        views_departments,
        views_invite,
        views_roles,
        views_users,
    )

    app.register_blueprint(bp)
    app.register_blueprint(invite_bp)
