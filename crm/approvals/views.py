"""Pages of approval requests: the list (waiting for me, mine), one request, and deciding
it (approve or reject with a comment). Thin views: ``crm.approvals.service`` checks who may
see and decide; a request one may not see is a 404."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.approvals import present, service
from crm.approvals.models import APPROVE, REJECT
from crm.errors import Conflict, ValidationFailed
from crm.web.htmx import redirect

bp = Blueprint("approvals", __name__, url_prefix="/approvals")


@bp.before_request
@login_required
def _signed_in():
    return None


@bp.get("/")
def inbox():
    """Requests waiting for my decision, and those I asked for."""
    return render_template("approvals/inbox.html", box=present.inbox(current_user))


@bp.get("/<id:request_id>")
def request_page(request_id: int):
    """One request: the change as I may read it, its steps, decisions and the decision form."""
    return render_template("approvals/request.html", v=present.view(current_user, request_id))


def _decide(request_id: int, decision: str):
    comment = request.form.get("comment", "")
    try:
        req = service.decide(current_user, request_id, decision, comment)
    except (Conflict, ValidationFailed) as exc:
        messages = [m for ms in getattr(exc, "errors", {}).values() for m in ms]
        flash(" ".join(messages) or exc.message, "error")
        status = 409 if isinstance(exc, Conflict) else 400
        body = render_template(
            "approvals/request.html", v=present.view(current_user, request_id), comment=comment
        )
        return make_response(body, status)
    if decision == REJECT:
        flash(_("Rejected; nothing was changed."), "success")
    elif req.status == "approved":
        flash(_("Approved; the change is saved."), "success")
    else:
        flash(_("Approved; the next step's approvers are asked now."), "success")
    return redirect(url_for("approvals.request_page", request_id=request_id))


@bp.post("/<id:request_id>/approve")
def approve(request_id: int):
    """Approve the current step (the last one saves the change)."""
    return _decide(request_id, APPROVE)


@bp.post("/<id:request_id>/reject")
def reject(request_id: int):
    """Reject the request: nothing changes."""
    return _decide(request_id, REJECT)


def register(app: Flask) -> None:
    """Register the approval pages and their configuration screens."""
    from crm.approvals import admin_views

    app.register_blueprint(bp)
    admin_views.register(app)
