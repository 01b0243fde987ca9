"""The duplicates page of an entity (groups found by a background job, "Find again"),
the merge page (records side by side: the one to keep, and per field which value wins)
and undoing a merge. Thin views: ``crm.dedupe.scan`` and ``crm.dedupe.merge`` ask the
access policy."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.dedupe import merge as merging
from crm.dedupe import scan as scanning
from crm.dedupe.match import rule_columns
from crm.errors import Conflict, Forbidden, ValidationFailed
from crm.ids import as_id
from crm.records import present
from crm.records.views import entity_for
from crm.web.htmx import is_htmx, redirect, render_page_or_block, vary

bp = Blueprint("dedupe", __name__)
STOP_POLLING = 286  # htmx: swap this answer, then stop polling
MAX_PAGE = 10_000
MAX_VERSION = 2**31 - 1


@bp.before_request
@login_required
def _signed_in():
    return None


def _entity(key: str):
    spec = entity_for(key)
    if not scanning.may_use(current_user, spec):
        raise Forbidden()
    return spec


@bp.get("/r/<key>/duplicates")
def duplicates(key: str):
    """The groups of likely duplicates the user may read, one page of them."""
    spec = _entity(key)
    raw = request.args.get("page", "1")
    page = as_id(raw)
    if page is None or page > MAX_PAGE:
        raise ValidationFailed(_("That page number is not valid."), errors={"page": []})
    found = scanning.scan_page(current_user, spec, page)
    fields = _shown_fields(spec)
    rows = [r for g in found.groups for r in g.rows]
    display = present.Display(current_user, spec, fields, rows)
    merges = merging.merges_of(current_user, spec, limit=10)
    status = STOP_POLLING if (is_htmx() and not found.running) else 200
    response = render_page_or_block(
        "dedupe/duplicates.html",
        "scan",
        status=status,
        spec=spec,
        found=found,
        fields=fields,
        display=display,
        merges=merges,
    )
    return vary(response)


def _shown_fields(spec, limit: int = 4):
    """A few readable fields to tell the records of a group apart: the rules' fields
    first, then the first others."""
    from crm.access import policy

    readable = {f.key: f for f in policy.visible_fields(current_user, spec, "read")}
    keys: list[str] = []
    for rule in scanning.own_rules(spec):
        for key in rule_columns(rule, "this"):
            if key in readable and key not in keys and key != spec.name_field:
                keys.append(key)
    for key in readable:
        if key not in keys and key != spec.name_field:
            keys.append(key)
    return [readable[k] for k in keys[:limit]]


@bp.post("/r/<key>/duplicates/find")
def find_again(key: str):
    """Queue the search for duplicate groups again."""
    spec = _entity(key)
    scanning.request_scan(current_user, spec)
    if scanning.running(spec):  # a worker runs it; without one (immediate mode) it is done
        flash(_("Looking for duplicates. The list updates when the search is done."), "info")
    return redirect(url_for("dedupe.duplicates", key=spec.key))


def _ids(values) -> list[int]:
    ids = []
    for value in values:
        record_id = as_id(value)
        if record_id is None:
            message = _("That record reference is not valid: use the link or choice offered.")
            raise ValidationFailed(message, errors={"ids": [message]})
        ids.append(record_id)
    return ids


def _merge_page(spec, ids: list[int], *, chosen=None, message: str = "", status: int = 200):
    items = merging.candidates(current_user, spec, ids)
    fields = merging.mergeable_fields(current_user, spec)
    display = present.Display(current_user, spec, fields, [c.row for c in items])
    chosen = chosen or {}
    master = chosen.get("master") or ids[0]
    picks = {}
    for f in fields:
        pick = chosen.get("picks", {}).get(f.key)
        if pick is None:
            values = {c.row["id"]: c.row[f.key] for c in items}
            blank = values[master] is None or values[master] == "" or values[master] == []
            first = next((i for i in ids if values[i] not in (None, "", [])), master)
            pick = first if blank else master
        picks[f.key] = pick
    return (
        render_template(
            "dedupe/merge.html",
            spec=spec,
            items=items,
            fields=fields,
            display=display,
            master=master,
            picks=picks,
            message=message,
        ),
        status,
    )


@bp.get("/r/<key>/merge")
def merge_page(key: str):
    """The records ``ids`` side by side, to merge."""
    spec = _entity(key)
    return _merge_page(spec, _ids(request.args.getlist("ids")))


@bp.post("/r/<key>/merge")
def merge_submit(key: str):
    """Merge the records submitted (each with the version shown) into the chosen one."""
    spec = _entity(key)
    form = request.form
    ids = _ids(form.getlist("ids"))
    versions: dict[int, int] = {}
    for record_id in ids:
        version = as_id(form.get(f"version_{record_id}"))
        if version is None or version > MAX_VERSION:
            message = _("The page is missing what it showed. Open the records again.")
            raise ValidationFailed(message, errors={"version": [message]})
        versions[record_id] = version
    master = as_id(form.get("master"))
    picks: dict[str, int] = {}
    for name, value in form.items():
        if name.startswith("pick_"):
            source = as_id(value)
            if source is None:
                message = _("Choose the value of one of the records.")
                raise ValidationFailed(message, errors={name[5:]: [message]})
            picks[name[5:]] = source
    try:
        merging.merge(current_user, spec, master or 0, versions, picks)
    except Conflict as exc:
        return _merge_page(spec, ids, message=exc.message, status=409)
    except ValidationFailed as exc:
        if len(set(ids)) != len(ids) or not 2 <= len(ids) <= merging.MAX_RECORDS:
            raise
        details = [m for ms in exc.errors.values() for m in ms]
        message = " ".join([exc.message, *details])
        chosen = {"master": master if master in versions else None, "picks": {}}
        return _merge_page(spec, ids, chosen=chosen, message=message, status=422)
    flash(_("The records were merged."), "success")
    return redirect(url_for("records.record_page", key=spec.key, record_id=master))


@bp.post("/r/<key>/merges/<int:merge_id>/undo")
def merge_undo(key: str, merge_id: int):
    """Undo a merge: the merged records come back from the recycle bin."""
    spec = _entity(key)
    master = merging.undo(current_user, spec, merge_id)
    flash(_("The merge was undone."), "success")
    return redirect(url_for("records.record_page", key=spec.key, record_id=master))


def register(app: Flask) -> None:
    """Register the duplicates and merge pages."""
    app.register_blueprint(bp)
