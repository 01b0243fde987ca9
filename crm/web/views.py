"""The workspace home and the configuration area's entrance."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from crm.web.htmx import render_page_or_block
from crm.web.navigation import runtime_entities

bp = Blueprint("web", __name__)


@bp.get("/")
@login_required
def home():
    """The entities the person may read, each with a block (count and their recent
    records) that loads on its own (htmx), so one slow entity does not hold the page."""
    return render_template("home/index.html", entities=runtime_entities(current_user))


@bp.get("/home/entity/<key>")
@login_required
def home_entity(key: str):
    """One entity's block of the home page (a fragment for htmx, the page without it)."""
    from crm.records import overview
    from crm.records.views import entity_for

    spec = entity_for(key)  # 404 unknown, 403 without the read right
    found = overview.overview(current_user, spec)
    return render_page_or_block("home/entity.html", "block", spec=spec, found=found)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
