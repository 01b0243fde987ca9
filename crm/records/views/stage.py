"""A record's stage from its page: the stage path's chevrons post a move here, and a
move that a stage gate blocks answers with a small form asking for exactly the missing
fields (``templates/pipelines/_gate_form.html``), which posts the stage again with them.

Thin view: the move is a ``records.merge_update`` of the stage (and the gate's values) at
the version the page showed, so the stage rules, the access policy and the optimistic lock
apply as on every other channel.
"""

from __future__ import annotations

from flask import Response, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import policy
from crm.approvals.words import sent_for_approval
from crm.errors import Forbidden, ValidationFailed
from crm.ids import as_id
from crm.pipelines import history as stage_history
from crm.pipelines.rules import GateBlocked, pipelines_for, stage_name
from crm.pipelines.spec import STAGE_FIELD
from crm.records import present
from crm.records import service as records
from crm.records.service import RecordConflict
from crm.records.views import bp, entity_for
from crm.web.htmx import is_htmx, redirect, render_page_or_block, vary
from forms.records import attach_errors, raw_values, record_form


def _page(key: str, record_id: int) -> Response:
    return redirect(url_for("records.record_page", key=key, record_id=record_id))


@bp.route("/<key>/<id:record_id>/stage", methods=["GET", "POST"])
def stage_move(key: str, record_id: int) -> Response:
    """GET ``?stage=``: the gate form for that stage (or straight back to the record when
    nothing is missing). POST ``stage``, ``version`` and any gate values: the move."""
    spec = entity_for(key)
    found = pipelines_for(spec)
    editable = {f.key: f for f in policy.visible_fields(current_user, spec, "edit")}
    if found is None or STAGE_FIELD not in editable:
        raise Forbidden(_("The stage cannot be changed here."))
    row = records.get(current_user, spec, record_id, action="edit")
    wanted = str(request.values.get("stage", ""))[:41]
    expected = as_id(request.values.get("version")) or row["version"]
    gate_keys = [k for k in request.form.getlist("gate") if k in editable]
    raw = {STAGE_FIELD: wanted, **raw_values([editable[k] for k in gate_keys], request.form)}
    try:
        if request.method == "GET":
            raise_if_gated(spec, row, raw)
            return _page(key, record_id)
        saved = records.merge_update(
            current_user, spec, record_id, {}, raw, expected_version=expected
        )
    except GateBlocked as exc:
        return _gate_form(spec, row, exc, editable, expected, posted=bool(gate_keys))
    except RecordConflict:
        flash(_("Someone else saved this record after you opened it; nothing was saved."), "error")
        return _page(key, record_id)
    except ValidationFailed as exc:
        stage = found.get(row.get("pipeline")) and found.get(row.get("pipeline")).stage(wanted)
        if stage is not None and gate_keys and set(exc.errors) & set(gate_keys):
            # a gate value that does not parse: the gate form again, with the message
            gated = GateBlocked(stage, tuple(gate_keys), exc.errors)
            return _gate_form(spec, row, gated, editable, expected, posted=True)
        messages = [m for ms in exc.errors.values() for m in ms] or [exc.message]
        flash(" ".join(messages), "error")
        return _page(key, record_id)
    stage = found.stage(wanted)
    if saved.held:
        flash(sent_for_approval(saved), "info")
        return _page(key, record_id)
    flash(_("Moved to %(stage)s.", stage=stage_name(stage) if stage else wanted), "success")
    return _page(key, record_id)


def raise_if_gated(spec, row, raw) -> None:
    """``GateBlocked`` when moving ``row`` as ``raw`` says would be blocked (nothing is
    written: the rules only read)."""
    from crm.pipelines import rules

    values = {STAGE_FIELD: raw[STAGE_FIELD]}
    rules.prepare(spec, row, values)


def _gate_form(spec, row, exc: GateBlocked, editable, version: int, *, posted: bool):
    fields = [editable[k] for k in exc.missing if k in editable]
    hidden = [k for k in exc.missing if k not in editable]
    form = record_form(spec, fields, formdata=request.form if posted else None, data=row)
    loose = attach_errors(form, exc.errors) if posted else []
    body = render_page_or_block(
        "pipelines/gate_page.html",
        "gate",
        status=400 if posted else 200,
        spec=spec,
        row=row,
        name=present.record_name(spec, row, current_user),
        form=form,
        fields=fields,
        hidden=stage_history.gate_words(spec, hidden) if hidden else "",
        loose=loose,
        stage=exc.stage,
        stage_label=stage_name(exc.stage),
        version=version,
        lookup_names=present.form_lookup_names(current_user, fields, row),
        is_fragment=is_htmx(),
    )
    return vary(make_response(body))
