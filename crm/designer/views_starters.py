"""Designer: the first-run page, "Choose a starting point" (issue 15).

Offered while the installation has no entities (the home page of an empty CRM shows the
same choice to whoever may configure it): one card per built-in starter
(``crm.packages.starters``) and "Start with an empty CRM". Choosing a starter installs it
and lands on the home page; choosing empty lands on the configuration area (and the home
page stops offering the starters for this session). Once entities exist the page sends
people away: it never applies over a company. Both routes sit behind the blueprint's
configure gate; CSRF is checked by the app.
"""

from __future__ import annotations

from flask import flash, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.designer import bp, flash_errors
from crm.errors import Conflict, NotFound, ValidationFailed
from crm.i18n import request_locale
from crm.packages import starters
from crm.packages.problems import PackageInvalid
from crm.web.htmx import redirect
from crm.web.views import SKIPPED


def _page(error: str = "", status: int = 200):
    locale = request_locale()
    cards = [(s, starters.summary(s, locale)) for s in starters.available()]
    return render_template("designer/starters.html", cards=cards, error=error), status


def _already_configured():
    flash(
        _("This CRM already has entities: starters are offered only to a new installation."), "info"
    )
    return redirect(url_for("web.home"))


@bp.get("/start")
def starters_page():
    if not starters.installation_is_empty():
        return _already_configured()
    return _page()


@bp.post("/start")
def starters_choose():
    choice = request.form.get("starter", "")
    if choice == "":
        session[SKIPPED] = True
        return redirect(url_for("designer.home"))
    try:
        starter, _result = starters.install(choice, current_user)
    except NotFound as exc:
        return _page(error=exc.message, status=400)
    except Conflict:
        return _already_configured()
    except PackageInvalid as exc:  # a starter that does not fit this installation
        return _page(error="; ".join(p.message for p in exc.problems[:5]), status=400)
    except ValidationFailed as exc:
        flash_errors(exc)
        return redirect(url_for("designer.starters_page"))
    session.pop(SKIPPED, None)
    flash(
        _("The “%(title)s” starter is installed. Its lists are in the menu.", title=starter.title),
        "success",
    )
    return redirect(url_for("web.home"))
