"""The job page: a progress bar refreshed by htmx polling until the job has finished.

The page polls its own ``status`` block every second; the answer that shows a finished
job is sent with status 286, which tells htmx to stop polling. Without JavaScript the
page refreshes itself (``<meta http-equiv="refresh">``) while the job runs.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, render_template, request
from flask_login import current_user, login_required

from crm.jobs.models import STATUSES
from crm.jobs.service import MAX_JOB_ID, job_list, job_view
from crm.web.htmx import is_htmx, render_page_or_block

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")
STOP_POLLING = 286  # htmx: swap this answer, then stop polling


@bp.get("/<int:job_id>")
@login_required
def job_page(job_id: int):
    job = job_view(current_user, job_id)
    status = STOP_POLLING if (job.finished and is_htmx()) else 200
    return render_page_or_block("jobs/job.html", "status", status=status, job=job)


@bp.get("/")
@login_required
def job_list_page():
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        abort(400)
    before = request.args.get("before", type=int)
    if before is not None and not 1 <= before <= MAX_JOB_ID:
        abort(400)
    jobs, more = job_list(current_user, status=status, before=before)
    return render_template("jobs/list.html", jobs=jobs, more=more, status=status, statuses=STATUSES)


def register(app: Flask) -> None:
    """Register the job page's blueprint."""
    app.register_blueprint(bp)
