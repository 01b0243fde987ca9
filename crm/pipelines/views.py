"""Boards: the kanban page of a pipeline, a column's next cards, and moving a card.

Thin views on the ``pipelines`` blueprint (under ``/r`` like the other runtime pages).
A move answers htmx with a notice and a ``board-changed`` event (the board reads its
columns and totals again, so a refused card goes back where the server says it is), or,
when the stage's gate needs values, with a dialog asking for exactly those. Without
JavaScript every card has a "Move to…" form: the same route answers with redirects and,
for a gate, a page with the same form.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from jinja2_fragments.flask import render_block

from crm.approvals.words import sent_for_approval
from crm.errors import ValidationFailed
from crm.ids import as_id, optional_id
from crm.metadata import list_views
from crm.metadata.spec import EntitySpec
from crm.pipelines import board as boards
from crm.pipelines import moves
from crm.pipelines.rules import GateBlocked, stage_name
from crm.pipelines.spec import PIPELINE_FIELD, STAGE_FIELD
from crm.records import listing, present
from crm.records import service as records
from crm.records.service import RecordConflict
from crm.records.views import entity_for
from crm.web.htmx import is_htmx, redirect, render_page_or_block, retarget, trigger, vary
from forms.records import attach_errors, raw_values, record_form

bp = Blueprint("pipelines", __name__, url_prefix="/r")

CHANGED = "board-changed"  # the board reads its columns and totals again
MOVED = "board-moved"  # a move was saved: the gate dialog closes


@bp.before_request
@login_required
def _signed_in():
    return None


BUILTIN_VIEW = "builtin"  # ``?view=``: the built-in view (no saved one was in effect)


def _list_request(spec: EntitySpec):
    """The list's view (``?view=``: an id or BUILTIN_VIEW, else the user's default),
    filters and search."""
    if request.args.get("view") == BUILTIN_VIEW:
        view = list_views.builtin_view(spec)
        return view, listing.parse_request(current_user, spec, request.args, view)
    view_id = optional_id(request.args.get("view"), what="list view", field="view")
    if view_id:
        view = list_views.get_view(view_id, current_user.id)
        if view.entity_key != spec.key:
            view = list_views.default_view(spec.key, current_user.id)
    else:
        view = list_views.default_view(spec.key, current_user.id)
    return view, listing.parse_request(current_user, spec, request.args, view)


@bp.get("/<key>/board")
def board(key: str):
    """The board of ``?pipeline=`` (the default pipeline when absent), with the list's
    view, filters and search; htmx asks for its ``board`` block to refresh it."""
    spec = entity_for(key)
    pipeline = boards.pipeline_of(spec, request.args.get("pipeline"))
    view, req = _list_request(spec)
    result = boards.board(current_user, spec, pipeline, req)
    pipelines = [(p.key, boards.pipeline_name(p)) for p in boards.pipelines_of(spec)]
    return render_page_or_block(
        "pipelines/board.html",
        "board",
        spec=spec,
        board=result,
        pipelines=pipelines,
        view=view,
        view_param=str(view.id) if view.id else BUILTIN_VIEW,
        args=request.args,
        kit=_card_kit(spec),
    )


@bp.get("/<key>/board/<stage>/more")
def column_more(key: str, stage: str):
    """A column's next cards (``after``: the cursor of the last card shown), and the
    button for the ones after them. Without htmx: the list of that stage."""
    spec = entity_for(key)
    pipeline = boards.pipeline_of(spec, request.args.get("pipeline"))
    if not is_htmx():
        return redirect(_stage_list_url(spec, stage))
    view, req = _list_request(spec)
    column = boards.column_page(current_user, spec, pipeline, stage, req, request.args.get("after"))
    body = render_template(
        "pipelines/_more.html", spec=spec, board_pipeline=pipeline, column=column,
        stages=_stages(pipeline), args=request.args, kit=_card_kit(spec),
        view_param=str(view.id) if view.id else BUILTIN_VIEW,
    )  # fmt: skip
    return vary(make_response(body))


_MARK = 918273645  # a record id no URL part contains otherwise


def _around_id(endpoint: str, **values) -> tuple[str, str]:
    """(before, after) the record id in the URL of ``endpoint``."""
    before, _mark, after = url_for(endpoint, record_id=_MARK, **values).partition(str(_MARK))
    return before, after


@dataclass(frozen=True)
class CardKit:
    """What every card of a page shares, worked out once per page rather than per card
    (a board shows up to 20 cards per column): the URLs around a record's id, and the
    words of the card in the reader's language (``move_to`` a pattern, ``%(name)s``).
    Attributes, not a dict: a template reads them without a failed attribute lookup."""

    record_url: tuple[str, str]
    move_url: tuple[str, str]
    move: str
    move_to: str
    stale: str
    csrf: str  # this session's token (the same for every card)


def _card_kit(spec: EntitySpec) -> CardKit:
    return CardKit(
        record_url=_around_id("records.record_page", key=spec.key),
        move_url=_around_id("pipelines.move", key=spec.key),
        move=_("Move"),
        move_to=_("Move “%(name)s” to"),  # no values: the pattern itself
        stale=_("Stale"),
        csrf=generate_csrf(),
    )


def _stage_list_url(spec: EntitySpec, stage: str) -> str:
    return url_for("records.record_list", key=spec.key, **{f"f.{STAGE_FIELD}.in": stage})


def _stages(pipeline) -> boards.StageChoices:
    return boards.StageChoices([(s.key, stage_name(s)) for s in pipeline.active_stages])


def _board_url(spec: EntitySpec, pipeline_key: str | None) -> str:
    return url_for("pipelines.board", key=spec.key, pipeline=pipeline_key or None)


def _notice(message: str, category: str, status: int):
    """An htmx answer: ``message`` in the board's notice area, and the board refreshed."""
    body = render_template("pipelines/_notice.html", message=message, category=category)
    response = retarget(vary(make_response(body, status)), "#board-notice")
    return trigger(response, CHANGED)


@bp.post("/<key>/<id:record_id>/move")
def move(key: str, record_id: int):
    """Move a record to ``stage`` (``version``: the version the board read; ``from``:
    the stage it showed it in), with the values of the stage's gate when sent from its
    dialog (``gate=1``)."""
    spec = entity_for(key)
    stage_key = (request.form.get("stage") or "").strip()
    version = as_id(request.form.get("version")) or 0
    from_stage = (request.form.get("from") or "").strip() or None
    pipeline_key = (request.form.get("pipeline") or "").strip() or None
    from_dialog = request.form.get("gate") == "1"
    values = {}
    fields = []
    if from_dialog:
        stage = moves.target_stage(spec, stage_key)
        keys = request.form.getlist("fields")
        fields = [f for f in moves.gate_fields(current_user, spec, stage, keys)]
        values = raw_values(fields, request.form)
    # Asked before the move: after its commit the signed-in user would be read again.
    name_of = present.record_namer(spec, current_user)
    try:
        saved = moves.move(
            current_user, spec, record_id, stage_key,
            version=version, from_stage=from_stage, values=values,
        )  # fmt: skip
    except GateBlocked as exc:
        return _gate(spec, record_id, exc, version, from_stage, pipeline_key, from_dialog)
    except RecordConflict as exc:
        message = _(
            "Someone else changed “%(name)s” after the board showed it; nothing was moved. "
            "The board shows it as it is now.",
            name=present.record_name(spec, exc.current),
        )
        return _refused(spec, pipeline_key, message, 409)
    except ValidationFailed as exc:
        if from_dialog and fields and any(k in exc.errors for k in (f.key for f in fields)):
            form = record_form(spec, fields, formdata=request.form)
            loose = attach_errors(form, exc.errors)
            stage = moves.target_stage(spec, stage_key)
            return _gate_form(
                spec, record_id, stage, fields, form, loose, version, from_stage, pipeline_key,
                status=400,
            )  # fmt: skip
        message = " ".join(m for ms in exc.errors.values() for m in ms) or exc.message
        return _refused(spec, pipeline_key, message, 400)
    stage = moves.target_stage(spec, stage_key)
    if saved.held:  # the card stays where it was until the move is approved
        if not is_htmx():
            flash(sent_for_approval(saved), "info")
            return redirect(_board_url(spec, pipeline_key))
        return trigger(_notice(sent_for_approval(saved), "info", 200), MOVED)
    row = saved.row  # the record as the move left it: no second read
    message = _(
        "“%(name)s” moved to %(stage)s.",
        name=name_of(row),
        stage=stage_name(stage),
    )
    if not is_htmx():
        flash(message, "success")
        return redirect(_board_url(spec, row[PIPELINE_FIELD] or pipeline_key))
    return trigger(_notice(message, "success", 200), MOVED)


def _refused(spec, pipeline_key, message: str, status: int):
    if not is_htmx():
        flash(message, "error")
        return redirect(_board_url(spec, pipeline_key))
    return _notice(message, "error", status)


def _gate(spec, record_id, exc: GateBlocked, version, from_stage, pipeline_key, from_dialog):
    """The form asking for exactly the values the stage still needs."""
    try:
        fields = moves.gate_fields(current_user, spec, exc.stage, exc.missing)
    except ValidationFailed as refused:
        return _refused(spec, pipeline_key, refused.message, 400)
    form = record_form(spec, fields, formdata=request.form if from_dialog else None)
    loose = attach_errors(form, exc.errors) if from_dialog else []
    return _gate_form(
        spec, record_id, exc.stage, fields, form, loose, version, from_stage, pipeline_key,
        status=400 if from_dialog else 200,
    )  # fmt: skip


def _gate_form(
    spec, record_id, stage, fields, form, loose, version, from_stage, pipeline_key, *, status
):
    row = records.get(current_user, spec, record_id)
    context = dict(
        spec=spec, row=row, name=present.record_name(spec, row), stage=stage,
        stage_label=stage_name(stage), fields=fields, form=form, loose=loose, version=version,
        from_stage=from_stage, pipeline_key=pipeline_key, is_fragment=is_htmx(),
        lookup_names=present.form_lookup_names(current_user, fields, request.form),
        back=_board_url(spec, pipeline_key),
    )  # fmt: skip
    if not is_htmx():
        return make_response(render_template("pipelines/gate.html", **context), status)
    body = render_block("pipelines/gate.html", "gate", **context)
    response = retarget(vary(make_response(body, status)), "#board-dialog-body")
    # The card goes back to where it is stored until the values are saved with the move.
    return trigger(response, CHANGED)


def board_link(spec: EntitySpec) -> str | None:
    """The board's URL for the list page's "List | Board" switch (None: no pipelines)."""
    return url_for("pipelines.board", key=spec.key) if boards.pipelines_of(spec) else None


def register(app) -> None:
    """Register the board pages (``crm.web.templating`` gives the list page ``board_link``)."""
    app.register_blueprint(bp)
