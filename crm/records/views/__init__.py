"""The runtime's pages: lists, record pages, forms, bulk actions, filters, inline edit and
sharing, one module each, all on ``bp``.

Every view loads its entity through ``entity_for`` (404 / 403 from the access policy), parses
its input, calls a record service and renders a page or one block of it.
"""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from crm.access import policy
from crm.metadata import specs
from crm.metadata.spec import EntitySpec

bp = Blueprint("records", __name__, url_prefix="/r")


@bp.before_request
@login_required
def _signed_in():
    return None


def entity_for(key: str) -> EntitySpec:
    """The entity ``key`` for the signed-in user: 404 when it does not exist (or is
    archived), 403 unless they may read its records."""
    spec = specs.entity_or_404(key)
    policy.require(current_user, "read", spec.key)
    return spec


def register(app) -> None:
    """Register the runtime pages (the top bar's list of entities comes from
    ``crm.web.navigation``)."""
    from crm.records.views import (  # noqa: F401 - routes
        bulk,
        duplicates,
        filters,
        inline,
        pages,
        sharing,
        stage,
    )

    app.register_blueprint(bp)
