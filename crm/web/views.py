"""The workspace home and the configuration area's entrance."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

bp = Blueprint("web", __name__)


@bp.get("/")
@login_required
def home():
    return render_template("home/index.html")


@bp.get("/admin/")
@login_required
def admin_home():
    # The configuration area is its own right, separate from data rights.
    if not current_user.is_admin:
        abort(403)
    return render_template("home/admin.html")


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
