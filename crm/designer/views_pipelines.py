"""Designer: the pipelines of an entity (list, editor with its stages, live preview,
archive). Every save goes through ``crm.pipelines.service.save_pipeline``; its errors are
placed by key next to their inputs (``stages.<n>.<attr>`` on the n-th row sent,
``stages.<key>.move_to`` on the removed stage's row)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.designer import bp, flash_errors
from crm.designer.views_entities import entity_or_404, nav_entities
from crm.errors import NotFound, ValidationFailed
from crm.i18n import pick, request_locale
from crm.metadata import types
from crm.metadata.keys import suggest_key
from crm.metadata.palette import PALETTE, colour_choices
from crm.pipelines import service
from crm.pipelines.spec import (
    CATEGORIES,
    PIPELINE_FIELD,
    PROBABILITY_FIELD,
    STAGE_FIELD,
    PipelineSpec,
)
from crm.web.htmx import is_htmx, redirect, vary
from forms.designer import translations_from
from forms.pipelines import (
    PipelineForm,
    StageRowData,
    card_fields_from,
    row_from_stage,
    rows_from_form,
)

PIPELINE_ERRORS = ("key", "name", "amount_field", "close_field", "card_fields", "stages")


def _token() -> str:
    return secrets.token_hex(4)


def _pipeline_or_404(entity_key: str, key: str) -> PipelineSpec:
    found = service.pipelines_of(entity_key).get(key, include_archived=True)
    if found is None:
        raise NotFound(_("There is no such pipeline."))
    return found


def _shown(name: str, translations: Any) -> str:
    return pick(name, (translations or {}).get("name"), request_locale())


# --- the list ------------------------------------------------------------------------------


@bp.get("/entities/<key>/pipelines")
def pipelines(key: str):
    entity = entity_or_404(key)
    items = [
        {
            "spec": p,
            "name": _shown(p.name, p.translations),
            "stages": [(s, _shown(s.name, s.translations)) for s in p.active_stages],
        }
        for p in service.pipelines_of(key).pipelines
    ]
    return render_template(
        "designer/pipelines.html", entity=entity, items=items, nav_entities=nav_entities()
    )


# --- the editor ----------------------------------------------------------------------------


def _gate_fields(entity) -> list:
    """The fields a stage may require (as the service allows them)."""
    return [
        f
        for f in entity.active_fields
        if f.key not in (PIPELINE_FIELD, STAGE_FIELD) and not types.get(f.type).assigned
    ]


def _amount_fields(entity) -> list:
    return [
        f for f in entity.active_fields if types.get(f.type).numeric and f.key != PROBABILITY_FIELD
    ]


def _date_fields(entity) -> list:
    """Fields a forecast may read the expected close from (``crm.analytics.forecast``)."""
    return [f for f in entity.active_fields if types.get(f.type).storage == "date"]


def _card_candidates(entity) -> list:
    return [f for f in entity.active_fields if f.key not in (PIPELINE_FIELD, STAGE_FIELD)]


def _starter_rows() -> list[StageRowData]:
    """A new pipeline starts with an open stage and the two closing ones."""
    return [
        StageRowData(_token(), name=_("New"), probability=10, category="open", color="blue"),
        StageRowData(_token(), name=_("Won"), probability=100, category="won", color="green"),
        StageRowData(_token(), name=_("Lost"), probability=0, category="lost", color="red"),
    ]


def _taken_stage_keys(entity_key: str) -> set[str]:
    return {s.key for p in service.pipelines_of(entity_key).pipelines for s in p.stages}


def _context(entity, pipeline, form, rows, *, errors=None, translations=None, cards=None):
    errors = errors or {}
    kept = [r for r in rows if not r.removed]
    form_errors = list(form.form_errors)
    return {
        "entity": entity,
        "pipeline": pipeline,
        "form": form,
        "rows": rows,
        "targets": [(r.key, r.name or r.key) for r in kept if r.key],
        "gate_fields": _gate_fields(entity),
        "card_candidates": _card_candidates(entity),
        "card_fields": cards
        if cards is not None
        else (list(pipeline.card_fields) if pipeline else []),
        "colours": colour_choices(),
        "categories": [(c, service.CATEGORY_WORDS[c]) for c in CATEGORIES],
        "category_words": service.CATEGORY_WORDS,
        "name_translations": translations or {},
        "errors": errors,
        "form_errors": form_errors,
        "preview": _preview_columns(kept),
        "nav_entities": nav_entities(),
    }


def _place_errors(form, rows: list[StageRowData], sent: list[StageRowData], errors) -> dict:
    """Put each error on the input its key names; return the pipeline-level ones by key
    (``key``, ``name``, ``amount_field``, ``card_fields``, ``stages``)."""
    out: dict[str, list[str]] = {}
    by_key = {r.key: r for r in rows if r.removed}
    for where, messages in errors.items():
        parts = where.split(".")
        if parts[0] == "stages" and len(parts) == 3:
            n, attr = parts[1], parts[2]
            if attr == "move_to" and n in by_key:
                by_key[n].errors.setdefault("move_to", []).extend(messages)
                continue
            if n.isdigit() and int(n) < len(sent):
                sent[int(n)].errors.setdefault(attr, []).extend(messages)
                continue
        if where in ("name", "key"):
            form[where].errors = [*list(form[where].errors or []), *messages]
        elif where in PIPELINE_ERRORS:
            out.setdefault(where, []).extend(messages)
        else:
            form.form_errors.extend(messages)
    return out


def _editor(key: str, pipeline_key: str | None):
    entity = entity_or_404(key, include_archived=False)
    pipeline = _pipeline_or_404(key, pipeline_key) if pipeline_key else None
    form = PipelineForm()
    form.amount_field.choices = [("", "—")] + [(f.key, f.label) for f in _amount_fields(entity)]
    form.close_field.choices = [("", "—")] + [(f.key, f.label) for f in _date_fields(entity)]
    stored = {s.key: s for s in pipeline.active_stages} if pipeline else {}
    counts = service.stage_counts(key, list(stored)) if stored else {}

    if request.method == "GET":
        if pipeline:
            form.name.data = pipeline.name
            form.key.data = pipeline.key
            form.is_default.data = pipeline.is_default
            form.amount_field.data = pipeline.amount_field or ""
            form.close_field.data = pipeline.options.get("close_field") or ""
            form.probability_override.data = pipeline.probability_override
            rows = [row_from_stage(_token(), s, counts.get(s.key, 0)) for s in stored.values()]
        else:
            form.is_default.data = not service.pipelines_of(key).active
            rows = _starter_rows()
        translations = dict(pipeline.translations.get("name") or {}) if pipeline else {}
        context = _context(entity, pipeline, form, rows, translations=translations)
        return render_template("designer/pipeline_form.html", **context)

    rows = rows_from_form(request.form, stored)
    for r in rows:
        r.count = counts.get(r.key, 0) if r.stored else 0
    translated = translations_from(request.form, "tr_name")
    if translated is None:
        translated = dict(pipeline.translations.get("name") or {}) if pipeline else {}
    cards = card_fields_from(request.form)
    if not form.validate():  # only the CSRF token can fail here (CSRFProtect checks first)
        context = _context(entity, pipeline, form, rows, translations=translated, cards=cards)
        return render_template("designer/pipeline_form.html", **context), 400
    if form.add_stage.data:  # "Add a stage" without JavaScript: the form again, unsaved
        rows.append(StageRowData(_token()))
        context = _context(entity, pipeline, form, rows, translations=translated, cards=cards)
        return render_template("designer/pipeline_form.html", **context)

    taken = _taken_stage_keys(key) | {r.key for r in rows if r.key}
    for r in rows:
        if not r.stored and not r.key and r.name.strip():
            r.key = suggest_key(r.name, taken=taken)
            taken.add(r.key)
    sent = [r for r in rows if not r.removed]
    moves = {r.key: r.move_to for r in rows if r.removed and r.stored and r.move_to}
    if pipeline:
        pkey = pipeline.key
    else:
        existing = {p.key for p in service.pipelines_of(key).pipelines}
        pkey = (form.key.data or "").strip()
        if not pkey and (form.name.data or "").strip():
            pkey = suggest_key(form.name.data, taken=existing)
            form.key.data = pkey
        if pkey in existing:
            form.key.errors = [
                _("This entity already has a pipeline with the key “%(key)s”.", key=pkey)
            ]
            context = _context(entity, pipeline, form, rows, translations=translated, cards=cards)
            return render_template("designer/pipeline_form.html", **context), 400
    try:
        saved = service.save_pipeline(
            key,
            pkey,
            form.name.data or "",
            [r.to_input() for r in sent],
            translations={"name": translated} if translated else None,
            is_default=bool(form.is_default.data),
            options={
                "amount_field": form.amount_field.data or None,
                "close_field": form.close_field.data or None,
                "card_fields": cards,
                "probability_override": bool(form.probability_override.data),
            },
            move_to=moves,
            actor_id=current_user.id,
        )
    except ValidationFailed as exc:
        errors = _place_errors(form, rows, sent, exc.errors)
        context = _context(
            entity, pipeline, form, rows, errors=errors, translations=translated, cards=cards
        )
        return render_template("designer/pipeline_form.html", **context), 400
    flash(_("Saved the pipeline “%(name)s”.", name=saved.name), "success")
    return redirect(url_for("designer.pipelines", key=key))


@bp.route("/entities/<key>/pipelines/new", methods=["GET", "POST"])
def pipeline_new(key: str):
    return _editor(key, None)


@bp.route("/entities/<key>/pipelines/<pipeline_key>/edit", methods=["GET", "POST"])
def pipeline_edit(key: str, pipeline_key: str):
    return _editor(key, pipeline_key)


@bp.get("/entities/<key>/pipelines/stage-row")
def pipeline_stage_row(key: str):
    """htmx: one more empty stage row. A browser without htmx is sent to the editor."""
    entity = entity_or_404(key, include_archived=False)
    if not is_htmx():
        return redirect(url_for("designer.pipeline_new", key=key))
    body = render_template(
        "designer/_stage_row.html",
        row=StageRowData(_token(), probability=""),
        targets=[],
        gate_fields=_gate_fields(entity),
        colours=colour_choices(),
        categories=[(c, service.CATEGORY_WORDS[c]) for c in CATEGORIES],
    )
    return vary(make_response(body))


def _preview_columns(rows: list[StageRowData]) -> list[dict]:
    """The board's columns as the form stands: name on its colour, probability, category.
    Tolerant of anything typed (the preview never refuses; saving does)."""
    columns = []
    for r in rows[:60]:
        try:
            probability = int(str(r.probability).strip())
        except ValueError:
            probability = None
        if probability is not None and not 0 <= probability <= 100:
            probability = None
        columns.append(
            {
                "name": r.name.strip() or r.key or _("New stage"),
                "color": r.color if r.color in PALETTE else "gray",
                "probability": probability,
                "category": r.category if r.category in CATEGORIES else None,
            }
        )
    return columns


@bp.post("/entities/<key>/pipelines/preview")
def pipeline_preview(key: str):
    """htmx: the board preview for the stages as the editor's form stands (unsaved)."""
    entity_or_404(key, include_archived=False)
    rows = [r for r in rows_from_form(request.form, {}) if not r.removed]
    body = render_template(
        "designer/_pipeline_preview.html",
        preview=_preview_columns(rows),
        category_words=service.CATEGORY_WORDS,
    )
    return vary(make_response(body))


@bp.post("/entities/<key>/pipelines/<pipeline_key>/archive")
def pipeline_archive(key: str, pipeline_key: str):
    entity_or_404(key)
    pipeline = _pipeline_or_404(key, pipeline_key)
    try:
        service.archive_pipeline(key, pipeline.key, actor_id=current_user.id)
    except ValidationFailed as exc:
        flash_errors(exc)
        return redirect(url_for("designer.pipeline_edit", key=key, pipeline_key=pipeline.key))
    flash(_("Archived the pipeline “%(name)s”.", name=pipeline.name), "success")
    return redirect(url_for("designer.pipelines", key=key))
