"""The go-live checklist page: every step with its counts, last import and what is
missing, and the upload form that starts a pack (one file per step, or just one).
While a pack runs, the steps block polls itself (htmx)."""

from __future__ import annotations

import io

from flask import Blueprint, Response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.access.service import require_admin
from crm.errors import DomainError
from crm.golive import checklist as checklist_service
from crm.golive import plan
from crm.imports import org, service
from crm.imports.errors import UnreadableFile
from crm.metadata import specs
from crm.web.htmx import redirect, render_page_or_block

bp = Blueprint("golive", __name__, url_prefix="/admin/go-live")


@bp.before_request
@login_required
def _full_admin_required():
    require_admin(current_user, org.ONLY_ADMINS)


def _page(errors: dict[str, list[str]] | None = None, message: str = "", status: int = 200):
    state = checklist_service.checklist(current_user)
    return render_page_or_block(
        "golive/checklist.html", "steps", status=status, state=state, errors=errors or {},
        message=message, labels={s.key: s.label for s in state.steps},
        statuses={"waiting": _("Waiting"), "running": _("Running"), "done": _("Done"),
                  "failed": _("Stopped")},
    )  # fmt: skip


@bp.route("/", methods=["GET", "POST"])
def checklist():
    """The checklist; POST: start a pack with the files chosen (one per step)."""
    if request.method == "GET":
        return _page()
    names = {s.field_name: s.key for s in checklist_service.checklist(current_user).steps}
    files = {}
    for name, step in names.items():
        upload = request.files.get(name)
        if upload is not None and upload.filename:
            files[step] = (upload.stream, upload.filename)
    if not files:
        return _page({"files": [_("Choose a file for at least one step.")]}, status=400)
    try:
        plan.start(current_user, files)
    except UnreadableFile as exc:
        return _page({"files": [str(exc)]}, status=400)
    except DomainError as exc:
        return _page(exc.errors, exc.message, status=400)
    return redirect(url_for("golive.checklist"))


@bp.get("/imports/<int:import_id>/errors.csv")
def errors(import_id: int):
    """The rows a step's import could not import, as a CSV to fix and import again."""
    imp = checklist_service.step_import(current_user, import_id)
    out = io.StringIO()
    service.write_errors(imp.id, out, spec=specs.current().entity(imp.entity_key))
    name = f"{imp.entity_key.lstrip('@')}-import-{imp.id}-errors.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
