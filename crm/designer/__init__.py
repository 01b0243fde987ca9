"""The configuration area: administrators shape entities, fields, layouts and list views.

Every route of this blueprint needs the "configure" right (checked once, before any view
runs, through the access policy) and every change goes through the metadata services.
"""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from crm.access.policy import CONFIGURE, require

bp = Blueprint("designer", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _configure_right_required():
    require(current_user, CONFIGURE)


def flash_errors(exc) -> None:
    """Show every message of a ``ValidationFailed`` as an error notice on the next page."""
    from flask import flash

    for messages in exc.errors.values():
        for message in messages:
            flash(message, "error")
    if not exc.errors:
        flash(exc.message, "error")


def register(app) -> None:
    """Import the view modules (they attach routes to ``bp``) and register the blueprint."""
    from crm.designer import (  # noqa: F401
        views_changes,
        views_dedupe,
        views_entities,
        views_fields,
        views_layouts,
        views_lists,
        views_package_import,
        views_packages,
        views_pipelines,
        views_rules,
        views_settings,
        views_starters,
    )

    app.register_blueprint(bp)
