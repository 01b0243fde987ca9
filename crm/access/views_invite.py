"""The public page behind an invitation link: choose a password, then you are signed in."""

from __future__ import annotations

from flask import flash, make_response, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user

from crm.access import invite_bp, invites
from crm.errors import NotFound, ValidationFailed
from crm.web.htmx import redirect
from forms.access import InviteForm


def _private(response):
    # The token is in the URL: never send it on as a referrer, never cache the page.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _unusable(exc: NotFound | invites.InviteGone):
    body = render_template("access/invite_invalid.html", message=exc.message, status=exc.status)
    return _private(make_response(body, exc.status))


@invite_bp.route("/invite/<token>", methods=["GET", "POST"])
def accept(token: str):
    try:
        _invite, user = invites.check(token)
    except (NotFound, invites.InviteGone) as exc:
        return _unusable(exc)
    form = InviteForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = invites.accept(
                token,
                form.password.data,
                ip=request.remote_addr,
                user_agent=request.user_agent.string,
            )
        except (NotFound, invites.InviteGone) as exc:
            return _unusable(exc)
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
            status = 400
        else:
            # A fresh session: nothing of a previous sign-in in this browser survives.
            session.clear()
            login_user(user)
            flash(_("Welcome, %(name)s. Your password is set.", name=user.display_name), "success")
            return _private(redirect(url_for("web.home")))
    elif request.method == "POST":
        status = 400
    body = render_template("access/invite.html", form=form, user=user)
    return _private(make_response(body, status))
