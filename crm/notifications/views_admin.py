"""Administrators' mail pages.

- ``/admin/mail/settings`` (blueprint ``mail_settings``, the configure right: the
  configuration area): the SMTP settings, the password write-only, and a test e-mail.
- ``/admin/mail/`` (blueprint ``mail``, full administrators only): the outbox, newest
  first, paged by id, each message's body on its own page.
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.access.policy import CONFIGURE, require
from crm.errors import NotFound, ValidationFailed
from crm.ids import as_id
from crm.notifications import mail, smtp
from crm.notifications.models import FAILED, KEPT, QUEUED, SENT
from crm.web.htmx import redirect, render_page_or_block
from forms.mail import SmtpForm, TestMailForm

settings_bp = Blueprint("mail_settings", __name__, url_prefix="/admin/mail/settings")
outbox_bp = Blueprint("mail", __name__, url_prefix="/admin/mail")


@settings_bp.before_request
@login_required
def _configure_right_required():
    require(current_user, CONFIGURE)


@outbox_bp.before_request
@login_required
def _signed_in():
    return None  # the service checks the full administrator right


def _statuses() -> dict[str, str]:
    return {KEPT: _("Kept"), QUEUED: _("Queued"), SENT: _("Sent"), FAILED: _("Failed")}


def _settings_page(form: SmtpForm, test: TestMailForm, status: int = 200):
    form.security.choices = [(k, str(v)) for k, v in smtp.SECURITY.items()]
    current = smtp.current()
    return render_template(
        "notifications/mail_settings.html", form=form, test=test, current=current,
    ), status  # fmt: skip


def _stored() -> dict:
    """The settings in force as the form's initial values (never the password)."""
    current = smtp.current()
    return {
        "host": current.host, "port": current.port if current.host else None,
        "security": current.security, "user": current.user,
        "from_address": current.from_address,
    }  # fmt: skip


@settings_bp.route("/", methods=["GET", "POST"])
def settings():
    """The SMTP settings; POST saves them (an empty password keeps the stored one)."""
    form = SmtpForm(data=_stored())
    test = TestMailForm(formdata=None, data={"address": current_user.email})
    if request.method == "GET":
        return _settings_page(form, test)
    form.security.choices = [(k, str(v)) for k, v in smtp.SECURITY.items()]
    if not form.validate():
        return _settings_page(form, test, 400)
    try:
        smtp.save(
            current_user, host=form.host.data or "", port=form.port.data,
            security=form.security.data or smtp.NONE, user=form.user.data or "",
            password=form.password.data, clear_password=bool(form.clear_password.data),
            from_address=form.from_address.data or "",
        )  # fmt: skip
    except ValidationFailed as exc:
        form.add_errors(exc.errors)
        return _settings_page(form, test, exc.status)
    flash(_("The e-mail settings are saved."), "success")
    return redirect(url_for("mail_settings.settings"))


@settings_bp.post("/test")
def send_test():
    """Send a test e-mail with the settings in force; says how it went."""
    test = TestMailForm()
    form = SmtpForm(formdata=None, data=_stored())
    if not test.validate():
        return _settings_page(form, test, 400)
    try:
        entry = mail.send_test(current_user, test.address.data)
    except ValidationFailed as exc:
        test.add_errors(exc.errors)
        return _settings_page(form, test, exc.status)
    words = {
        KEPT: (_("No SMTP host is set: the test e-mail is kept in the outbox."), "info"),
        QUEUED: (_("The test e-mail is queued; the outbox shows when it is sent."), "info"),
        SENT: (_("The test e-mail was sent."), "success"),
        FAILED: (_("The test e-mail could not be sent: %(error)s", error=entry.error), "error"),
    }
    message, category = words.get(entry.status, words[QUEUED])
    flash(message, category)
    return redirect(url_for("mail_settings.settings"))


@outbox_bp.get("/")
def outbox():
    """The outbox, newest first; ``?before=<id>`` the next older page."""
    raw = request.args.get("before")
    before = as_id(raw) if raw else None
    if raw and before is None:
        raise NotFound(_("There is no such page of the outbox."))
    page = mail.messages(current_user, before)
    return render_page_or_block(
        "notifications/outbox.html", "rows", page=page, statuses=_statuses(),
        paging=before is not None,
    )  # fmt: skip


@outbox_bp.get("/<id:message_id>")
def outbox_message(message_id: int):
    """One message of the outbox with its body."""
    entry = mail.message(current_user, message_id)
    return render_template("notifications/message.html", m=entry, statuses=_statuses())


def register(app: Flask) -> None:
    """Register both blueprints (the settings first: their prefix is the longer one)."""
    app.register_blueprint(settings_bp)
    app.register_blueprint(outbox_bp)
