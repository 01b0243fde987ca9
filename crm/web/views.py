"""The workspace home and the configuration area's entrance."""

from __future__ import annotations

from flask import Blueprint, render_template, session
from flask_login import current_user, login_required

from crm.access import policy
from crm.i18n import request_locale
from crm.web.htmx import render_page_or_block
from crm.web.navigation import runtime_entities

bp = Blueprint("web", __name__)
# Set in the session when an administrator chose to start with an empty CRM on the
# first-run page: home then stops sending them there (until they sign in again).
SKIPPED = "atelier_starters_skipped"


@bp.get("/")
@login_required
def home():
    """The entities the person may read, each with a block (count and their recent
    records) that loads on its own (htmx), so one slow entity does not hold the page.

    While the installation has no entities, someone who may configure it is offered the
    starters instead ("Choose a starting point"), unless they chose to start empty this
    session."""
    from crm.packages import starters

    cards = []
    if (
        not session.get(SKIPPED)
        and policy.can(current_user, policy.CONFIGURE)
        and starters.installation_is_empty()
    ):
        locale = request_locale()
        cards = [(s, starters.summary(s, locale)) for s in starters.available()]
    from crm.golive.checklist import pending

    entities = runtime_entities(current_user)
    return render_template(
        "home/index.html",
        entities=entities,
        starter_cards=cards,
        golive_pending=bool(entities) and not cards and pending(current_user),
    )


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
