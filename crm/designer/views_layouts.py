"""Designer: the form layout and the quick create layout of an entity.

The editor posts its whole structure as JSON in one hidden ``layout`` input (kept in sync
by ``static/js/layout-editor.js``); ``crm.metadata.layouts`` parses and validates it and
stores it. htmx saves after every change and swaps the ``editor`` block (editor + preview).
"""

from __future__ import annotations

import json

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import HiddenField

from crm.designer import bp
from crm.designer.views_entities import entity_or_404, nav_entities
from crm.errors import NotFound, ValidationFailed
from crm.metadata import layouts, specs
from crm.web.htmx import is_htmx, redirect, render_page_or_block
from forms.base import BaseForm

TEMPLATE = "designer/layout.html"


class LayoutForm(BaseForm):
    """The editor's one input: the layout as JSON (size and shape checked by the service)."""

    layout = HiddenField()


def _kind() -> str:
    kind = request.args.get("kind", "form")
    if kind not in layouts.KINDS:
        raise NotFound(_("There is no such kind of layout."))
    return kind


def _context(spec, kind: str, *, errors: tuple | list = (), saved: bool = False) -> dict:
    """What the page and its ``editor`` block need: the effective layouts (from the
    compiled specs, with the plain section titles and their translations) and the JSON the
    editor starts from."""
    # The plain titles and their translations: what the editor shows is what it saves.
    compiled = specs.raw()
    layout = compiled.layout(spec.key)
    quick = compiled.quick_layout(spec.key)
    payload = layout.as_definition() if kind == "form" else {"fields": list(quick)}
    fields = {f.key: f for f in spec.active_fields}
    return {
        "entity": spec,
        "kind": kind,
        "tab": "layout" if kind == "form" else "quick",
        "layout": layout,
        "quick": quick,
        "available": [f for f in spec.active_fields if f.key not in quick],
        "has_required": any(f.required for f in spec.active_fields),
        "fields": fields,
        "payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        "errors": list(errors),
        "saved": saved,
        "max_sections": layouts.MAX_SECTIONS,
        "max_title": layouts.MAX_TITLE,
        "nav_entities": nav_entities(),
    }


@bp.get("/entities/<key>/layout")
def layout(key: str):
    """The layout editor (``?kind=form``, the default, or ``?kind=quick``) with a preview
    of the form as staff see it."""
    kind = _kind()
    spec = entity_or_404(key)
    return render_page_or_block(TEMPLATE, "editor", **_context(spec, kind))


@bp.post("/entities/<key>/layout")
def layout_save(key: str):
    """Save the posted layout. htmx gets the editor block back (200 with a notice, or 400
    with the problems and nothing changed); a plain form post is redirected back."""
    kind = _kind()
    spec = entity_or_404(key, include_archived=False)
    form = LayoutForm()
    try:
        data = layouts.parse_payload(form.layout.data)
        layouts.save_layout(spec.key, kind, data, actor_id=current_user.id)
    except ValidationFailed as exc:
        messages = [m for ms in exc.errors.values() for m in ms] or [exc.message]
        spec = entity_or_404(key)
        return render_page_or_block(
            TEMPLATE, "editor", status=400, **_context(spec, kind, errors=messages)
        )
    if not is_htmx():
        flash(_("Layout saved.") if kind == "form" else _("Quick create saved."), "success")
        args = {"kind": kind} if kind != "form" else {}
        return redirect(url_for("designer.layout", key=key, **args))
    spec = entity_or_404(key)
    return render_page_or_block(TEMPLATE, "editor", **_context(spec, kind, saved=True))
