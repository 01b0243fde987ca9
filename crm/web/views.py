"""The workspace home and the configuration area's entrance."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, session
from flask_login import current_user, login_required

from crm.access import policy
from crm.i18n import request_locale, select_timezone
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
        blocks=home_blocks(current_user) if entities else (),
        starter_cards=cards,
        golive_pending=bool(entities) and not cards and pending(current_user),
    )


def home_blocks(user) -> tuple[str, ...]:
    """The person's blocks of the home page, in order (each loads on its own). Reads no
    records: the manager's block is offered from their rights alone."""
    names = ["tasks", "pipeline", "recent", "pool", "notifications"]
    if not user.is_admin:
        from crm.access import levels

        r = policy.rights(user)
        if any(
            r.level(s.key, "read") in (levels.DEPARTMENT, levels.SUBTREE)
            for s in runtime_entities(user)
        ):
            names.append("team")
    if policy.can(user, policy.CONFIGURE):
        names.append("health")
    return tuple(names)


@bp.get("/home/block/<name>")
@login_required
def home_block(name: str):
    """One block of the home page (a fragment for htmx, a page without it); a block that
    is not the person's is a 404."""
    from crm.analytics import home as blocks
    from crm.notifications.service import bell

    if name not in home_blocks(current_user):
        abort(404)
    zone = select_timezone()
    context: dict = {"name": name}
    if name == "tasks":
        context["mine"] = blocks.tasks(current_user, zone)
    elif name == "pipeline":
        context["figures"] = blocks.pipeline_figures(current_user, own=True)
    elif name == "recent":
        context["recent"] = blocks.recent(current_user)
    elif name == "pool":
        context["returning"] = blocks.returning_soon(current_user)
    elif name == "notifications":
        context["bell"] = bell(current_user, unread_only=True)
    elif name == "team":
        context["figures"], context["overdue"] = blocks.remembered_for(
            "team", (current_user.id, zone), blocks.TEAM_SECONDS, lambda: team(current_user, zone)
        )
    elif name == "health":
        context["health"] = blocks.health()
    return render_page_or_block("home/block.html", "block", **context)


@bp.get("/home/entity/<key>")
@login_required
def home_entity(key: str):
    """One entity's block of the home page (a fragment for htmx, the page without it)."""
    from crm.records import overview
    from crm.records.views import entity_for

    spec = entity_for(key)  # 404 unknown, 403 without the read right
    found = overview.overview(current_user, spec)
    return render_page_or_block("home/entity.html", "block", spec=spec, found=found)


def team(user, zone: str) -> tuple:
    """A manager's department: its pipeline by stage and overdue tasks per person."""
    from crm.analytics import home as blocks

    managed = blocks.managed_entities(user)
    return (
        blocks.pipeline_figures(user, own=False, entities=managed),
        blocks.overdue_by_person(user, zone, managed),
    )


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
