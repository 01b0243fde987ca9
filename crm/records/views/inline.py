"""Field-level pages: inline edit of one value on the record page, and the check a form
field asks for when it loses focus.

Thin views on the ``records`` blueprint. Inline edit saves through
``records.merge_update`` with the version and the fingerprint of the value read when the
input was opened, so a save by someone else in between that changed this value is a
conflict the user resolves, never a silent overwrite. The
check parses the value with the record service's rules (type, required, lookup, unique)
and writes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from crm.access import directory, policy
from crm.approvals.words import oob_notice, sent_for_approval
from crm.errors import Forbidden, ValidationFailed
from crm.ids import as_id, optional_id
from crm.metadata import types
from crm.pipelines import history as stage_history
from crm.pipelines.rules import GateBlocked, stage_name
from crm.records import checks, present
from crm.records import service as records
from crm.records.service import RecordConflict
from crm.records.views import bp, entity_for
from crm.web.htmx import is_htmx, redirect, vary
from forms.records import raw_values, record_form

TEMPLATE = "records/_inline.html"


def _editable_field(spec, field_key: str):
    """The field if the user may change it; ``Forbidden`` otherwise (hidden, read-only,
    archived, or no such field: the same answer, so nothing is revealed)."""
    policy.require(current_user, "edit", spec.key)
    f = {f.key: f for f in policy.visible_fields(current_user, spec, "edit")}.get(field_key)
    if f is None:
        raise Forbidden(_("This field cannot be changed here."))
    return f


def _display(spec, f, row) -> Response:
    """The value as the record page shows it, with its edit button."""
    display = present.Display(current_user, spec, [f], [row])
    body = render_block(TEMPLATE, "display", spec=spec, f=f, row=row, display=display)
    return vary(make_response(body))


def _edit_form(
    spec, f, row, *, formdata=None, version: int, status: int = 200, errors=(), gate_url=None
) -> Response:
    form = record_form(spec, [f], formdata=formdata, data=None if formdata else row)
    values = formdata if formdata is not None else row
    if errors:
        form[f.key].errors = list(errors)
    # What the value was when the input opened: a save by someone else that left this
    # value alone is then no conflict for it (see ``field_save``).
    seen = (
        formdata.get("seen", "")
        if formdata is not None
        else records.fingerprint(spec, row["id"], f.key, row[f.key])
    )
    body = render_block(
        TEMPLATE, "edit", spec=spec, f=f, row=row, form=form, version=version, seen=seen,
        lookup_names=present.form_lookup_names(current_user, [f], values), errors=list(errors),
        gate_url=gate_url,
    )  # fmt: skip
    return vary(make_response(body, status))


@bp.get("/<key>/<id:record_id>/field/<field_key>")
def field_value(key: str, record_id: int, field_key: str) -> Response:
    """The display of one value (cancel, or "keep theirs" after a conflict)."""
    spec = entity_for(key)
    row = records.get(current_user, spec, record_id)
    visible = {f.key: f for f in policy.visible_fields(current_user, spec, "read")}
    f = visible.get(field_key)
    if f is None:
        raise Forbidden(_("This field cannot be shown here."))
    if not is_htmx():
        return redirect(url_for("records.record_page", key=key, record_id=record_id))
    return _display(spec, f, row)


@bp.get("/<key>/<id:record_id>/field/<field_key>/edit")
def field_edit(key: str, record_id: int, field_key: str) -> Response:
    """The input for one value, filled with the value saved now and carrying its version."""
    spec = entity_for(key)
    f = _editable_field(spec, field_key)
    row = records.get(current_user, spec, record_id, action="edit")
    if not is_htmx():
        return redirect(url_for("records.record_edit", key=key, record_id=record_id))
    return _edit_form(spec, f, row, version=row["version"])


@bp.post("/<key>/<id:record_id>/field/<field_key>")
def field_save(key: str, record_id: int, field_key: str) -> Response:
    """Save one value (``version`` = the version the input was opened with, ``seen`` = the
    fingerprint of the value then): ``records.merge_update``, as the edit form saves.

    Answers with the new display (and, out of band, the record's head and timeline), the
    input again with the message for a bad value (400), or a conflict panel with their
    value and yours (409) when someone changed this value in between. A save by someone
    else that left this value as the user saw it is no conflict: their changes to other
    fields stay, and this one is saved on top of them."""
    spec = entity_for(key)
    f = _editable_field(spec, field_key)
    row = records.get(current_user, spec, record_id, action="edit")
    expected = as_id(request.form.get("version")) or 0
    seen = request.form.get("seen", "")
    raw = raw_values([f], request.form)
    if types.get(f.type).multi_valued:  # no box ticked sends nothing: that means none
        raw.setdefault(f.key, [])
    try:
        saved = records.merge_update(
            current_user, spec, record_id, {f.key: seen}, raw, expected_version=expected
        )
    except GateBlocked as exc:
        return _gate_blocked(spec, f, row, exc, expected)
    except ValidationFailed as exc:
        messages = exc.errors.get(f.key) or [m for ms in exc.errors.values() for m in ms]
        if not is_htmx():
            flash(
                _(
                    "%(field)s: %(messages)s",
                    field=f.label,
                    messages=" ".join(messages or [exc.message]),
                ),
                "error",
            )
            return redirect(url_for("records.record_page", key=key, record_id=record_id))
        return _edit_form(
            spec, f, row, formdata=request.form, version=expected, status=400,
            errors=messages or [exc.message],
        )  # fmt: skip
    except RecordConflict as exc:
        return _conflict(spec, f, exc.current, exc.yours.get(f.key), raw)
    notice = sent_for_approval(saved) if saved.held else None
    if not is_htmx():
        flash(notice or _("Saved."), "info" if notice else "success")
        return redirect(url_for("records.record_page", key=key, record_id=record_id))
    response = _saved(spec, f, records.get(current_user, spec, record_id))
    if notice:  # the value stays as it was: say why, in the page's notice area
        response.set_data(response.get_data(as_text=True) + oob_notice(notice))
    return response


def _gate_blocked(spec, f, row, exc: GateBlocked, version: int) -> Response:
    """A move a stage gate refused: the message names the missing fields by their
    labels, with a link to the record's gate form that asks for exactly them."""
    message = _(
        "“%(stage)s” needs %(fields)s first.",
        stage=stage_name(exc.stage),
        fields=stage_history.gate_words(spec, exc.missing),
    )
    gate_url = url_for(
        "records.stage_move", key=spec.key, record_id=row["id"], stage=exc.stage.key,
        version=version,
    )  # fmt: skip
    if not is_htmx():
        flash(message, "error")
        return redirect(gate_url)
    return _edit_form(
        spec, f, row, formdata=request.form, version=version, status=400, errors=[message],
        gate_url=gate_url,
    )  # fmt: skip


def _conflict(spec, f, theirs, yours: Any, raw) -> Response:
    if not is_htmx():
        flash(_("Someone else saved this record after you opened it; nothing was saved."), "error")
        return redirect(url_for("records.record_page", key=spec.key, record_id=theirs["id"]))
    display = present.Display(current_user, spec, [f], [theirs, {f.key: yours}])
    mine = raw.get(f.key)
    if types.get(f.type).widget == "checkbox":  # a box that is not ticked sends nothing
        mine_list = ["y"] if mine == "true" else []
    else:
        mine_list = mine if isinstance(mine, list) else [mine]
    who = directory.user_names([theirs["updated_by"]] if theirs["updated_by"] else [])
    body = render_block(
        TEMPLATE, "conflict", spec=spec, f=f, row=theirs, yours=yours, mine=mine_list,
        display=display, who=who,
    )  # fmt: skip
    return vary(make_response(body, 409))


def _saved(spec, f, row) -> Response:
    """The new display, plus the record head and timeline swapped out of band."""
    display = present.Display(current_user, spec, [f], [row])
    visible = {x.key: x for x in policy.visible_fields(current_user, spec, "read")}
    users = directory.user_names()
    body = render_block(TEMPLATE, "display", spec=spec, f=f, row=row, display=display)
    body += render_block(
        "records/record.html", "record_head", spec=spec, row=row, users=users, oob=True,
        name=present.record_name(spec, row),
    )  # fmt: skip
    body += render_block(
        "records/record.html", "timeline", spec=spec, row=row, users=users, oob=True,
        visible=visible,
        timeline=present.readable_timeline(
            current_user, spec, records.timeline(current_user, spec, row["id"])
        ),
    )  # fmt: skip
    return vary(make_response(body))


@bp.post("/<key>/validate/<field_key>")
def validate_field(key: str, field_key: str) -> Response:
    """Check one submitted value as saving would (type, required, lookup, unique) and
    answer with its messages, or nothing when it is fine. Writes nothing. ``record`` names
    the record being edited (its own value does not count as taken)."""
    spec = entity_for(key)
    record_id = optional_id(request.args.get("record"), field="record")
    if record_id:
        records.get(current_user, spec, record_id, action="edit")
    else:
        policy.require(current_user, "create", spec.key)
    f = {x.key: x for x in policy.visible_fields(current_user, spec, "edit")}.get(field_key)
    messages: list[str] = []
    if f is None:
        messages = [_("This field cannot be set here.")]
    else:
        raw = raw_values([f], request.form)
        if types.get(f.type).multi_valued:
            raw.setdefault(f.key, [])
        messages = checks.field_messages(current_user, spec, f, raw, record_id=record_id)
    body = render_block(TEMPLATE, "messages", messages=messages)
    return vary(make_response(body))
