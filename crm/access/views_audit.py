"""The access audit log's screens: the log with its filters (person, kind, dates), one
page at a time, and its CSV export. Entries are limited to the reader's reach by
``crm.access.audit``."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import audit, bp
from crm.access.directory import user_names
from forms.access import NO_CHOICE, AuditFilterForm, optional_id


def _form() -> tuple[AuditFilterForm, dict[str, Any], int]:
    """The filter form read from the query string, the service's filters and the status
    (400 when a filter was not understood: that filter is then left out)."""
    form = AuditFilterForm(request.args)
    form.person.choices = [(NO_CHOICE, _("Anyone"))] + [
        (str(i), name) for i, name in user_names().items()
    ]
    form.kind.choices = [(NO_CHOICE, _("Any kind")), *audit.KINDS.items()]
    status = 200
    if not form.validate():
        status = 400
        for name in form.errors:
            form[name].data = None if name in ("since", "until") else NO_CHOICE
            form[name].raw_data = None
    filters = {
        "person_id": optional_id(form.person.data),
        "kind": form.kind.data or "",
        "since": form.since.data,
        "until": form.until.data,
    }
    return form, filters, status


@bp.get("/audit")
def audit_log():
    form, filters, status = _form()
    page = audit.page(current_user, page=request.args.get("page", 1, type=int), **filters)
    return render_template("access/audit.html", form=form, page=page, args=request.args), status


@bp.get("/audit.csv")
def audit_csv():
    _unused, filters, status = _form()
    if status != 200:
        return audit_log()
    body = audit.csv_text(current_user, **filters)
    return Response(
        "\ufeff" + body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="access-audit.csv"'},
    )
