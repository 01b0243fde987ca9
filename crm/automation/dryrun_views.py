"""The "try a rule" page: pick a record (by id, or by name among those one may read) and
see what the rule would do to it, without doing it. Administrators only."""

from __future__ import annotations

from flask import Blueprint, Flask, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.access.policy import CONFIGURE, require
from crm.automation import dryrun
from crm.errors import ValidationFailed
from crm.ids import optional_id
from crm.web.htmx import render_page_or_block

bp = Blueprint("automation_try", __name__, url_prefix="/admin/automation")


@bp.before_request
@login_required
def _configure_right_required():
    require(current_user, CONFIGURE)


@bp.route("/rules/<int:rule_id>/try", methods=["GET", "POST"])
def try_rule(rule_id: int):
    """GET: the record search (``q``); POST: try the rule on the chosen ``record_id``."""
    rule, spec = dryrun.rule_for_trial(rule_id)
    q = (request.args.get("q") or "").strip()
    found = dryrun.find_records(current_user, spec, q) if q else []
    trial, errors, status = None, [], 200
    if request.method == "POST":
        try:
            record_id = optional_id(request.form.get("record_id"), field="record_id")
            if record_id is None:
                raise ValidationFailed(_("Choose a record to try the rule on."))
            trial = dryrun.dry_run(current_user, rule_id, record_id)
        except ValidationFailed as exc:
            errors, status = [exc.message], 400
    return render_page_or_block(
        "automation/try_rule.html", "result", status=status, rule=rule, spec=spec, q=q,
        found=found, trial=trial, errors=errors,
    )  # fmt: skip


def register(app: Flask) -> None:
    """Register the page's blueprint."""
    app.register_blueprint(bp)
