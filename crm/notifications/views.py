"""Pages of one's own notifications: the bell's list (newest first, "load more" by id),
marking one or all read, opening one (marks it read, then goes to its record), and the
choice of which kinds also come by e-mail. Only one's own: another user's notification
is a 404. Thin views: parse, call ``crm.notifications.service``, render or redirect."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.errors import NotFound
from crm.ids import as_id
from crm.notifications import service
from crm.notifications.models import KINDS
from crm.notifications.words import KIND_LABELS
from crm.web.htmx import is_htmx, redirect, render_page_or_block, vary

bp = Blueprint("notifications", __name__)


@bp.before_request
@login_required
def _signed_in():
    return None


def _gone() -> NotFound:
    return NotFound(_("There is no such notification."))


@bp.get("/notifications/")
def bell_page():
    """The list; ``?before=<id>``: the next older page (htmx: only its entries)."""
    raw = request.args.get("before")
    before = as_id(raw) if raw else None
    if raw and before is None:
        raise NotFound(_("There is no such page of notifications."))
    page = service.bell(current_user, before=min(before, 2**31 - 1) if before else None)
    block = "more" if before is not None else "content"
    return render_page_or_block(
        "notifications/list.html", block, page=page, labels=KIND_LABELS, paging=before is not None
    )


@bp.post("/notifications/<id:notification_id>/read")
def mark_read(notification_id: int):
    """Mark one read. htmx: the entry, and the bell's count out of band."""
    entry = service.mark_read(current_user, notification_id)
    if entry is None:
        raise _gone()
    if not is_htmx():
        return redirect(url_for("notifications.bell_page"))
    body = render_template(
        "notifications/_entry_read.html", n=entry, labels=KIND_LABELS,
        unread=service.unread_count(current_user),
    )  # fmt: skip
    return vary(make_response(body, 200))


@bp.post("/notifications/read-all")
def mark_all_read():
    count = service.mark_all_read(current_user)
    if count:
        flash(_("Every notification is marked read."), "success")
    return redirect(url_for("notifications.bell_page"))


@bp.get("/notifications/<id:notification_id>/open")
def open_one(notification_id: int):
    """Mark it read and go to its record (or back to the list when it has none)."""
    entry = service.mark_read(current_user, notification_id)
    if entry is None:
        raise _gone()
    if entry.link and service.is_local_path(entry.link):
        return redirect(entry.link)
    if entry.entity_key and entry.record_id:
        return redirect(
            url_for("records.record_page", key=entry.entity_key, record_id=entry.record_id)
        )
    return redirect(url_for("notifications.bell_page"))


@bp.route("/account/notifications", methods=["GET", "POST"])
def email_choices():
    """Which kinds of notification also come by e-mail (a checkbox per kind)."""
    if request.method == "POST":
        service.set_email_choices(current_user, request.form.getlist("email"))
        flash(_("Your e-mail choices are saved."), "success")
        return redirect(url_for("notifications.email_choices"))
    return render_template(
        "notifications/choices.html", choices=service.email_choices(current_user),
        kinds=KINDS, labels=KIND_LABELS,
    )  # fmt: skip


def register(app: Flask) -> None:
    """Register the notification pages and the administrators' mail pages."""
    from crm.notifications import views_admin

    app.register_blueprint(bp)
    views_admin.register(app)
