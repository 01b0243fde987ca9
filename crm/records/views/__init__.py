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
    """Register the runtime pages and put the entities a user may read in the top bar."""
    from crm.records.views import bulk, filters, inline, pages, sharing  # noqa: F401 - routes

    app.register_blueprint(bp)

    @app.context_processor
    def _runtime_nav():
        if not getattr(current_user, "is_authenticated", False):
            return {}
        try:
            entities = [
                e
                for e in specs.current().active_entities
                if policy.can(current_user, "read", e.key)
            ]
        except Exception:  # noqa: BLE001 - an error page must render even if this fails
            entities = []
        return {"runtime_entities": sorted(entities, key=lambda e: e.label_plural.lower())}
