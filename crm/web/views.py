"""The workspace home and the configuration area's entrance."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("web", __name__)


@bp.get("/")
@login_required
def home():
    return render_template("home/index.html")


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
