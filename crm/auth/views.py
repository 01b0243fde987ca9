"""Sign-in, sign-out, first run and password change pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_required, login_user, logout_user

from crm.auth import service
from crm.errors import Conflict, TooManyAttempts, ValidationFailed
from crm.extensions import login_manager
from crm.web.htmx import redirect
from forms.auth import ChangePasswordForm, FirstAdminForm, PreferencesForm, SignInForm

bp = Blueprint("auth", __name__)


def init_login(app: Flask) -> None:
    """Configure Flask-Login: cookies name revocable server-side sessions."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Sign in to continue.")
    login_manager.login_message_category = "info"
    # Our sessions are server-side rows; Flask-Login's IP/agent hash would only add
    # false sign-outs on mobile networks.
    login_manager.session_protection = None
    login_manager.user_loader(service.load_session_user)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after sign-in (no open redirect)."""
    if not target:
        return url_for("web.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.home")
    if "\\" in target:
        return url_for("web.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if service.needs_first_admin():
        return redirect(url_for("auth.setup"))
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = service.sign_in(
                form.email.data,
                form.password.data,
                ip=request.remote_addr,
                user_agent=request.user_agent.string,
            )
        except (ValidationFailed, TooManyAttempts) as exc:
            form.form_errors.append(exc.message)
            status = exc.status
        else:
            # A fresh session at sign-in: nothing set before (CSRF token included) survives.
            session.clear()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    # Worded before signing out: in the language of the person who leaves.
    message = _("You are signed out, here and on your other devices.")
    service.sign_out(current_user)
    logout_user()
    session.clear()
    flash(message, "success")
    return redirect(url_for("auth.login"))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    if not service.needs_first_admin():
        abort(404)
    form = FirstAdminForm()
    status = 200
    if form.validate_on_submit():
        try:
            service.create_first_admin(
                email=form.email.data,
                display_name=form.display_name.data,
                password=form.password.data,
            )
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
            status = 400
        except Conflict:
            abort(404)
        else:
            flash(_("Your administrator account is ready. Sign in to start."), "success")
            return redirect(url_for("auth.login"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/setup.html", form=form), status


@bp.route("/account/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    form = PreferencesForm(
        data={"locale": current_user.locale or "", "timezone": current_user.timezone or ""}
    )
    status = 200
    if form.validate_on_submit():
        try:
            service.set_preferences(
                current_user, locale=form.locale.data, timezone=form.timezone.data
            )
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
            status = 400
        else:
            refresh()  # the language of this very answer follows the new choice
            flash(_("Your preferences are saved."), "success")
            return redirect(url_for("auth.preferences"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/preferences.html", form=form), status


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            service.change_password(
                current_user, form.current_password.data, form.new_password.data
            )
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
            status = 400
        else:
            flash(
                _("Your password is changed. Your other sessions have been signed out."), "success"
            )
            return redirect(url_for("web.home"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/password.html", form=form), status
