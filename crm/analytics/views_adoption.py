"""The adoption evaluation page (/admin/adoption/) and its CSV export.

Gated by the "manage access" right, checked before any view runs: adoption is about
people (who uses the CRM, by department and role), which is the access managers' area;
people who only configure the CRM see set-up health on their home page instead. Even
then, figures are per department and role only, and groups too small to hide a person
show none to anyone below a full administrator (``crm.analytics.adoption.MIN_GROUP``).
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, render_template, request
from flask_login import current_user, login_required

from crm.access import policy
from crm.analytics import adoption, summary, usage
from crm.metadata import specs
from crm.pipelines.rules import stage_name

bp = Blueprint("adoption", __name__, url_prefix="/admin/adoption")


@bp.before_request
@login_required
def _manage_access_required():
    policy.require(current_user, policy.MANAGE_ACCESS)


@bp.get("/")
def evaluation():
    """The evaluation over the chosen weeks (``weeks``, ``golive``); 400 on bad input."""
    period = adoption.period_from(request.args)
    ev = adoption.evaluate(current_user, period)
    return render_template(
        "analytics/adoption.html",
        ev=ev,
        sentences=summary.sentences(ev),
        labels={s.key: s.label_plural for s in specs.current().entities.values()},
        most_active=max((w.weekly_active for w in ev.weeks), default=0) or 1,
        stage_label=stage_name,
    )


@bp.get("/export.csv")
def export():
    """The evaluation's figures as CSV (same period arguments as the page)."""
    period = adoption.period_from(request.args)
    body = summary.to_csv(adoption.evaluate(current_user, period))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="adoption-{period.start.isoformat()}.csv"'
    )
    return response


def register(app: Flask) -> None:
    """Register the evaluation's pages and the usage recorder."""
    app.register_blueprint(bp)
    usage.install(app)
