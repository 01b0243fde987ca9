"""The webhook screens of the configuration area, at ``/admin/webhooks/``: the delivery log,
one delivery (its payload and last answer) with "retry now", and the allowed private hosts.

The blueprint's gate demands the configure right before any view runs; the services
(``crm.webhooks.admin``) check it again.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.access.policy import CONFIGURE, require
from crm.errors import Conflict, ValidationFailed
from crm.web.htmx import redirect, render_page_or_block
from crm.webhooks import admin
from crm.webhooks.models import STATUSES
from crm.webhooks.service import MAX_ATTEMPTS
from forms.webhooks import ActionForm, AllowedHostForm

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


@bp.before_request
@login_required
def _configure_right_required():
    require(current_user, CONFIGURE)


def status_labels() -> dict[str, str]:
    """The delivery statuses in words."""
    return {"queued": _("Waiting"), "sent": _("Sent"), "failed": _("Failed"),
            "refused": _("Refused")}  # fmt: skip


@bp.get("/")
def deliveries():
    """The delivery log, newest first; ``?status=`` filters, ``?page=`` pages."""
    page = admin.deliveries(
        current_user,
        page=request.args.get("page", 1, type=int) or 1,
        status=request.args.get("status", ""),
    )
    return render_page_or_block(
        "webhooks/deliveries.html", "rows", page=page, labels=status_labels(),
        statuses=STATUSES, form=ActionForm(), max_attempts=MAX_ATTEMPTS,
    )  # fmt: skip


@bp.get("/<id:delivery_id>")
def delivery(delivery_id: int):
    """One delivery: what it sent, what came back, and "retry now" when it gave up."""
    found = admin.delivery(current_user, delivery_id)
    return render_template(
        "webhooks/delivery.html", d=found, payload=admin.pretty_payload(found),
        labels=status_labels(), form=ActionForm(), retryable=found.status in admin.RETRYABLE,
        max_attempts=MAX_ATTEMPTS,
    )  # fmt: skip


@bp.post("/<id:delivery_id>/retry")
def delivery_retry(delivery_id: int):
    """Start a failed or refused delivery over now."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        admin.retry(current_user, delivery_id)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(_("The delivery is queued again."), "success")
    return redirect(url_for("webhooks.delivery", delivery_id=delivery_id))


@bp.route("/hosts", methods=["GET", "POST"])
def hosts():
    """The allowed private hosts; POST adds one."""
    form = AllowedHostForm()
    status = 200
    if form.validate_on_submit():
        try:
            row = admin.add_host(current_user, form.host.data)
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
            status = exc.status
        else:
            flash(_("Webhooks may now call %(host)s.", host=row.host), "success")
            return redirect(url_for("webhooks.hosts"))
    elif request.method == "POST":
        status = 400
    return render_template(
        "webhooks/hosts.html", form=form, rows=admin.hosts(current_user), remove=ActionForm()
    ), status


@bp.post("/hosts/<id:host_id>/remove")
def host_remove(host_id: int):
    """Stop allowing a host."""
    if not ActionForm().validate_on_submit():
        abort(400)
    name = admin.remove_host(current_user, host_id)
    flash(_("Webhooks may no longer call %(host)s at a private address.", host=name), "success")
    return redirect(url_for("webhooks.hosts"))
