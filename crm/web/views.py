"""The workspace home and the configuration area's entrance."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from crm.access import policy

bp = Blueprint("web", __name__)


@bp.app_context_processor
def _access_helpers() -> dict:
    """``may("configure")``, ``may("read", "deal")``: the policy, for templates' links."""

    def may(action: str, entity: str | None = None, record: int | None = None) -> bool:
        return policy.can(current_user, action, entity, record)

    return {"may": may}


@bp.get("/")
@login_required
def home():
    return render_template("home/index.html")


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
