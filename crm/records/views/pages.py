"""Runtime pages: lists, record pages, forms, related lists, notes, the recycle bin.

Thin views: parse input, call the record services (which apply the access policy and the
scoped query layer), render a page or one block of it for htmx.
"""

from __future__ import annotations

from flask import (
    Response,
    flash,
    make_response,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from crm.access import directory, policy
from crm.activities import service as activities
from crm.approvals import service as approvals
from crm.approvals.words import sent_for_approval
from crm.dedupe import entry as dedupe_entry
from crm.errors import NotFound, ValidationFailed
from crm.i18n import select_timezone
from crm.ids import as_id, optional_id
from crm.metadata import list_views, specs, types
from crm.pipelines import history as stage_history
from crm.pipelines.spec import STAGE_FIELD
from crm.records import bulk, export, listing, present
from crm.records import service as records
from crm.records.lookup import lookup_options
from crm.records.service import RecordConflict
from crm.records.views import bp, entity_for
from crm.timeutil import utcnow
from crm.web.htmx import hx_target, is_htmx, redirect, render_page_or_block, trigger, vary
from forms.records import attach_errors, raw_values, record_form


def _layout_fields(spec, *, quick: bool = False):
    """(sections, fields) the user may edit, in layout order."""
    editable = {f.key: f for f in policy.visible_fields(current_user, spec, "edit")}
    compiled = specs.current()
    if quick:
        keys = [k for k in compiled.quick_layout(spec.key) if k in editable]
        return None, [editable[k] for k in keys]
    layout = compiled.layout(spec.key)
    fields = [editable[k] for s in layout.sections for k in s.field_keys if k in editable]
    return layout, fields


def _list_args(available=None):
    """The list view the user chose (``?view=``), else their default. ``available`` (the
    views already read for the page) saves a query."""
    if request.args.get("view") == "all":  # the built-in view: no saved filters (a drill-down)
        return list_views.builtin_view(specs.current().entity(request.view_args["key"]))
    view_id = optional_id(request.args.get("view"), what="list view", field="view")
    if view_id:
        return list_views.get_view(view_id, current_user.id)
    if available is not None:
        defaults = [v for v in available if v.is_default]
        mine = [v for v in defaults if not v.shared]
        if mine or defaults:
            return (mine or defaults)[0]
        return list_views.builtin_view(specs.current().entity(request.view_args["key"]))
    return list_views.default_view(request.view_args["key"], current_user.id)


@bp.get("/<key>/")
def record_list(key: str):
    spec = entity_for(key)
    available = list_views.list_views(spec.key, current_user.id)
    view = _list_args(available)
    if view.entity_key != spec.key:
        raise NotFound(_("There is no such list view."))
    req = listing.parse_request(current_user, spec, request.args, view)
    page = listing.list_page(current_user, spec, req)
    display = present.Display(current_user, spec, page.columns, page.rows)
    block = "rows" if hx_target() in ("rows", "more-row") else "results"
    response = render_page_or_block(
        "records/list.html",
        block,
        spec=spec,
        page=page,
        display=display,
        views=available,
        view=view,
        args=request.args,
        describe=list_views.describe_filter,
        # "Show more" rows have no bulk bar: no list of owners to read for them.
        bulk=None if is_htmx() and block == "rows" else bulk.options(current_user, spec),
        can_create=policy.can(current_user, "create", spec.key),
        can_export=policy.can(current_user, "export", spec.key),
        can_import=policy.can(current_user, "import", spec.key),
        can_dedupe=policy.can(current_user, "edit", spec.key),
    )
    return vary(response, by_target=True)


@bp.get("/<key>/export.<fmt>")
def record_export(key: str, fmt: str):
    """Download the current list (same columns, filters, sort and search) as CSV or XLSX."""
    spec = entity_for(key)
    policy.require(current_user, "export", spec.key)
    if fmt not in ("csv", "xlsx"):
        raise NotFound(_("Export as .csv or .xlsx."))
    req = listing.parse_request(current_user, spec, request.args, _list_args())
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    filename = f"{spec.key}-{stamp}.{fmt}"
    if fmt == "csv":
        body = stream_with_context(export.csv_chunks(current_user, spec, req))
        response = Response(body, mimetype="text/csv")
    else:
        response = Response(
            export.xlsx_bytes(current_user, spec, req),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/<key>/count")
def record_count(key: str):
    spec = entity_for(key)
    req = listing.parse_request(current_user, spec, request.args, _list_args())
    counted = listing.count_list(current_user, spec, req)
    # What the export links will give: the export scope may be narrower than the read
    # scope, and the number shown must not promise rows the export leaves out.
    exportable = None
    if policy.can(current_user, "export", spec.key):
        exportable = listing.count(current_user, spec, req, action="export")
        if exportable == (counted.n, counted.capped):
            exportable = None
    return vary(
        make_response(
            render_block(
                "records/list.html",
                "count",
                spec=spec,
                n=counted.n,
                capped=counted.capped,
                partial=counted.partial,
                scanned=listing.SHORT_SCAN_ROWS,
                exportable=exportable,
            )
        )
    )


@bp.route("/<key>/new", methods=["GET", "POST"])
def record_new(key: str):
    spec = entity_for(key)
    policy.require(current_user, "create", spec.key)
    quick = request.values.get("quick") == "1"
    layout, fields = _layout_fields(spec, quick=quick)
    defaults = {f.key: f.default for f in fields if f.default is not None}
    form = record_form(
        spec, fields, formdata=request.form if request.method == "POST" else None, data=defaults
    )
    loose: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            record_id = records.create(current_user, spec, raw_values(fields, request.form))
        except ValidationFailed as exc:
            loose = attach_errors(form, exc.errors)
            status = 400
        else:
            if quick and is_htmx():  # in a dialog: tell the page, which stays where it is
                return _quick_created(spec, record_id)
            flash(_("%(entity)s created.", entity=spec.label_singular), "success")
            return redirect(url_for("records.record_page", key=key, record_id=record_id))
    values = request.form if request.method == "POST" else {}
    return _render_form(spec, form, layout, fields, values, status=status, loose=loose, quick=quick)


def _quick_created(spec, record_id: int) -> Response:
    """The answer to a quick create in a dialog: a notice for the page and a
    ``quick-created`` event carrying the new record (the page closes the dialog and puts
    the record in the lookup that asked for it, or refreshes the list)."""
    name = present.record_name(spec, records.get(current_user, spec, record_id))
    body = render_template("records/_quick_created.html", spec=spec, record_id=record_id, name=name)
    response = vary(make_response(body))
    # json.dumps escapes non-ASCII, so any name travels safely in a header.
    return trigger(response, "quick-created", {"id": record_id, "label": name, "entity": spec.key})


def _quick_targets(fields) -> dict:
    """Lookup fields whose target the user may create records of: they get "+ New ..."."""
    compiled = specs.current()
    out = {}
    for f in fields:
        if types.get(f.type).reference != "record":
            continue
        target = compiled.entity(f.option("target"))
        if target is not None and policy.can(current_user, "create", target.key):
            out[f.key] = target
    return out


def _render_form(
    spec, form, layout, fields, values, *, status=200, loose=(), record=None, version=None,
    quick=False, seen=None,
):  # fmt: skip
    """The create / edit form page (or its ``form`` block for htmx). ``seen``: the
    fingerprints of the values the edit form was opened with (carried unchanged)."""
    return render_page_or_block(
        "records/form.html", "form", status=status, spec=spec, form=form, layout=layout,
        fields=fields, loose=list(loose), record=record, version=version, quick=quick,
        seen=seen or {},
        lookup_names=present.form_lookup_names(current_user, fields, values), is_fragment=is_htmx(),
        quick_targets=_quick_targets(fields),
        dup_watch=dedupe_entry.watched(spec, creating=record is None),
    )  # fmt: skip


@bp.get("/<key>/lookup")
def lookup(key: str):
    """Autocomplete for lookup fields: records of ``key`` the user may read whose name or
    searchable fields contain ``q`` (at most ``crm.records.lookup.LIMIT``)."""
    spec = entity_for(key)
    q = (request.args.get("q") or "").strip()[: listing.MAX_QUERY]
    field_key = request.args.get("field", "")
    if not field_key.replace("_", "").isalnum():
        field_key = ""
    options = lookup_options(current_user, spec, q)
    return vary(
        make_response(
            render_template(
                "records/_lookup_options.html", options=options, spec=spec, q=q, field=field_key
            )
        )
    )


RELATED_ROWS = 10  # rows of a related list on a record page ("See all" for the rest)


def _related_sources(spec, only: tuple[str, str] | None = None):
    """(entity, lookup field) pairs whose lookups point at ``spec`` and the user may read
    (``only``: the one with these keys)."""
    return [
        (other, f)
        for other, f in specs.current().lookups_into(spec.key)
        if (only is None or only == (other.key, f.key))
        and policy.can(current_user, "read", other.key)
        and policy.field_access(current_user, other, f.key) != policy.HIDDEN
    ]


@bp.get("/<key>/<id:record_id>")
def record_page(key: str, record_id: int):
    spec = entity_for(key)
    row = records.get(current_user, spec, record_id)
    layout = specs.current().layout(spec.key)
    visible = {f.key: f for f in policy.visible_fields(current_user, spec, "read")}
    display = present.Display(current_user, spec, visible.values(), [row])
    timeline = present.readable_timeline(
        current_user, spec, records.timeline_of(current_user, spec, row)
    )
    allowed = policy.allowed_on(current_user, spec, row, ("edit", "delete"))
    can_edit = "edit" in allowed
    editable = _inline_editable(spec, can_edit)
    steps = activities.next_steps(
        current_user, spec, row["id"], can_edit=can_edit, zone=select_timezone()
    )
    return render_template(
        "records/record.html",
        spec=spec,
        row=row,
        approvals=approvals.banner(spec, row["id"]),
        name=present.record_name(spec, row, current_user),
        layout=layout,
        visible=visible,
        display=display,
        related=_related_sources(spec),
        timeline=timeline,
        # The names this page shows (owner, timeline authors): one query, not every user.
        users=directory.user_names({row["owner_id"], *(e.user_id for e in timeline)} - {None}),
        can_edit=can_edit,
        can_delete="delete" in allowed,
        editable=editable,
        stage_path=stage_history.stage_path(spec, row) if STAGE_FIELD in visible else None,
        can_move=STAGE_FIELD in editable,
        steps=steps,
    )


def _inline_editable(spec, can_edit: bool) -> set[str]:
    """Keys of the values the user may edit in place on this record's page (none when
    the record lies outside what they may edit: ``can_edit``, asked of the record)."""
    if not can_edit:
        return set()
    return {f.key for f in policy.visible_fields(current_user, spec, "edit")}


@bp.get("/<key>/<id:record_id>/related/<source>/<field_key>")
def related_list(key: str, record_id: int, source: str, field_key: str):
    spec = entity_for(key)
    pairs = _related_sources(spec, only=(source, field_key))
    if not pairs:
        raise NotFound(_("There is no such related list."))
    [(other, f)] = pairs
    if not is_htmx():  # a fragment URL opened directly: show it where it belongs
        records.require_readable(current_user, spec, record_id)
        page_url = url_for("records.record_page", key=key, record_id=record_id)
        return redirect(f"{page_url}#related-{other.key}-{f.key}")
    # Built here, not parsed: the one filter is the lookup (a field the user may read).
    related = listing.ListRequest(
        view=list_views.related_view(other.key),
        filters=(list_views.FilterSpec(f.key, "eq", str(record_id)),),
        size=RELATED_ROWS,
    )
    # The record must be readable: checked within the list's query, and on its own only
    # when that finds nothing (to tell "none yet" from "no such record").
    page = listing.list_page(
        current_user, other, related, within=records.readable(current_user, spec, record_id)
    )
    if not page.rows:
        records.require_readable(current_user, spec, record_id)
    columns = [c for c in page.columns if c.key != f.key][:4]
    display = present.Display(current_user, other, columns, page.rows)
    return render_page_or_block(
        "records/record.html",
        "related",
        other=other,
        via=f,
        page=page,
        columns=columns,
        display=display,
        spec=spec,
        record_id=record_id,
    )


@bp.route("/<key>/<id:record_id>/edit", methods=["GET", "POST"])
def record_edit(key: str, record_id: int):
    """The edit form. It carries the version it was opened at and, per field, the
    fingerprint of the value it showed (``seen.<key>``): a save after someone else's is a
    three-way merge by field (``records.merge_update``), and only values both changed
    differently come back, on the conflict page, to be chosen one by one (``keep.<key>``:
    ``theirs`` or ``mine``; ``now.<key>``: the fingerprint of theirs as the page showed it)."""
    spec = entity_for(key)
    row = records.get(current_user, spec, record_id, action="edit")
    layout, fields = _layout_fields(spec)
    if request.method == "GET":
        form = record_form(spec, fields, data=row)
        seen = records.fingerprints(spec, row, [f.key for f in fields])
        return _render_form(
            spec, form, layout, fields, row, record=row, version=row["version"], seen=seen
        )
    form = record_form(spec, fields, formdata=request.form)
    expected = as_id(request.form.get("version")) or 0
    base = {f.key: request.form.get(f"seen.{f.key}", "") for f in fields}
    raw = raw_values(fields, request.form)
    for f in fields:
        if types.get(f.type).multi_valued:  # the form showed it: none chosen sends nothing
            raw.setdefault(f.key, [])
        choice = request.form.get(f"keep.{f.key}")
        if choice == "theirs":  # keep the value saved now: do not send one
            raw.pop(f.key, None)
        elif choice == "mine":  # the user has seen theirs: merge on top of it
            base[f.key] = request.form.get(f"now.{f.key}", "")
    try:
        saved = records.merge_update(
            current_user, spec, record_id, base, raw, expected_version=expected
        )
    except RecordConflict as exc:
        return _conflict_page(spec, fields, exc, base, expected)
    except ValidationFailed as exc:
        loose = attach_errors(form, exc.errors)
        return _render_form(
            spec, form, layout, fields, request.form,
            status=400, loose=loose, record=row, version=expected, seen=base,
        )  # fmt: skip
    flash(_saved_notice(saved), "success")
    return redirect(url_for("records.record_page", key=key, record_id=record_id))


def _saved_notice(saved: records.Saved) -> str:
    if saved.held:
        return sent_for_approval(saved)
    if not saved.merged:
        return _("Saved.")
    if saved.by == current_user.id:
        return _("Saved, merged with your own changes saved meanwhile.")
    who = directory.user_names([saved.by]).get(saved.by) if saved.by else None
    if who:
        return _("Saved, merged with %(name)s’s changes.", name=who)
    return _("Saved, merged with newer changes.")


def _conflict_page(spec, fields, exc: RecordConflict, base: dict, expected: int):
    """The fields both sides changed differently, each with the value the form showed
    (the original), theirs and yours, formatted alike; the user chooses one by one."""
    theirs = exc.current
    conflicting = [f for f in fields if f.key in exc.fields]
    original = records.values_seen(spec, theirs["id"], base, [f.key for f in conflicting])
    mine = {**theirs, **exc.yours}
    before = {**theirs, **original}
    display = present.Display(current_user, spec, conflicting, [theirs, mine, before])
    who = directory.user_names([theirs["updated_by"]]) if theirs["updated_by"] else {}
    now = records.fingerprints(spec, theirs, [f.key for f in conflicting])
    # The user's form as they sent it (minus the choices of an earlier round), to post again.
    resend = [(f.key, v) for f in fields for v in request.form.getlist(f.key)]
    body = render_template(
        "records/conflict.html", spec=spec, row=theirs, fields=conflicting, display=display,
        mine=mine, before=before, known=set(original), who=who.get(theirs["updated_by"]),
        name=present.record_name(spec, theirs), resend=resend, base=base, now=now,
        version=expected,
    )  # fmt: skip
    return body, 409


@bp.post("/<key>/<id:record_id>/notes")
def note_add(key: str, record_id: int):
    spec = entity_for(key)
    error = None
    try:
        records.add_note(current_user, spec, record_id, request.form.get("body", ""))
    except ValidationFailed as exc:
        error = " ".join(m for ms in exc.errors.values() for m in ms) or exc.message
    if not is_htmx():
        # posted without JavaScript: post/redirect/get, so a reload never adds it twice
        if error:
            flash(error, "error")
        else:
            flash(_("Note added."), "success")
        return redirect(url_for("records.record_page", key=key, record_id=record_id))
    return render_page_or_block(
        "records/record.html",
        "timeline",
        status=400 if error else 200,
        spec=spec,
        row={"id": record_id},
        timeline=present.readable_timeline(
            current_user, spec, records.timeline(current_user, spec, record_id)
        ),
        users=directory.user_names(),
        note_error=error,
        visible={f.key: f for f in policy.visible_fields(current_user, spec, "read")},
    )


@bp.post("/<key>/<id:record_id>/delete")
def record_delete(key: str, record_id: int):
    spec = entity_for(key)
    records.delete(current_user, spec, record_id)
    flash(_("%(entity)s moved to the recycle bin.", entity=spec.label_singular), "success")
    return redirect(url_for("records.record_list", key=key))


@bp.get("/<key>/bin")
def recycle_bin(key: str):
    spec = entity_for(key)
    policy.require(current_user, "delete", spec.key)
    rows = records.deleted(current_user, spec)
    return render_template(
        "records/bin.html",
        spec=spec,
        rows=rows,
        name=present.record_name,
        can_purge=policy.can(current_user, policy.CONFIGURE),
    )


@bp.post("/<key>/<id:record_id>/restore")
def record_restore(key: str, record_id: int):
    spec = entity_for(key)
    records.restore(current_user, spec, record_id)
    flash(_("%(entity)s restored.", entity=spec.label_singular), "success")
    return redirect(url_for("records.record_page", key=key, record_id=record_id))


@bp.post("/<key>/<id:record_id>/purge")
def record_purge(key: str, record_id: int):
    spec = entity_for(key)
    records.purge(current_user, spec, record_id)
    flash(_("Deleted for good."), "success")
    return redirect(url_for("records.recycle_bin", key=key))
