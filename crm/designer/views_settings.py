"""Designer: "Language and region", the company's default language and time zone.

They apply to whoever has not chosen their own on their preferences page (``crm.i18n``).
The blueprint's gate demands the configure right before this view runs, and the service
(``crm.auth.service.set_company_defaults``) checks it again before it writes.
"""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user

from crm.auth import service
from crm.designer import bp
from crm.designer.views_entities import nav_entities
from crm.errors import ValidationFailed
from crm.web.htmx import redirect
from forms.auth import CompanyDefaultsForm


@bp.route("/settings/language", methods=["GET", "POST"])
def language_settings():
    locale, timezone = service.company_defaults()
    form = CompanyDefaultsForm(data={"locale": locale, "timezone": timezone})
    status = 200
    if form.validate_on_submit():
        try:
            service.set_company_defaults(
                current_user, locale=form.locale.data, timezone=form.timezone.data
            )
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
            form.form_errors.insert(0, exc.message)
            status = exc.status
        else:
            refresh()  # whoever follows the company's language reads this in the new one
            flash(_("The company's language and time zone are saved."), "success")
            return redirect(url_for("designer.language_settings"))
    elif request.method == "POST":
        status = 400
    return render_template("designer/language.html", form=form, nav_entities=nav_entities()), status
