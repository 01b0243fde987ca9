"""List page actions: bulk edit / assign / delete of the picked rows, and "save this view".

Thin views on the ``records`` blueprint: parse the form, call ``crm.records.bulk`` or
``crm.metadata.list_views``, answer with a fragment for htmx (and an event that refreshes
the list) or a flash message and a redirect for a plain form post.
"""

from __future__ import annotations

from flask import Response, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from jinja2_fragments.flask import render_block

from crm.access import policy
from crm.errors import NotFound, ValidationFailed
from crm.ids import optional_id
from crm.metadata import list_views
from crm.records import bulk, listing
from crm.records.views import bp, entity_for
from crm.web.htmx import is_htmx, redirect, trigger, vary
from forms.records import raw_values, record_form

TEMPLATE = "records/bulk.html"


def summary(result: bulk.BulkResult, spec) -> list[tuple[str, list[tuple[int, str]]]]:
    """The result in sentences, each with the records it names (``(id, name)`` pairs the
    user may see): "3 Accounts updated.", "1 skipped because someone changed it ..."."""

    def what(n: int) -> str:
        return spec.label_singular if n == 1 else spec.label_plural

    lines: list[tuple[str, list[tuple[int, str]]]] = []
    if result.done or not result.total:
        n = len(result.done)
        if result.action == "bulk_edit":
            text = ngettext(
                "%(num)d %(entity)s updated.", "%(num)d %(entity)s updated.", n, entity=what(n)
            )
        elif result.action == "assign":
            text = ngettext(
                "%(num)d %(entity)s reassigned.",
                "%(num)d %(entity)s reassigned.",
                n,
                entity=what(n),
            )
        else:
            text = ngettext(
                "%(num)d %(entity)s moved to the recycle bin.",
                "%(num)d %(entity)s moved to the recycle bin.",
                n,
                entity=what(n),
            )
        lines.append((text, []))
    if result.unchanged:
        n = len(result.unchanged)
        if result.action == "bulk_edit":
            text = ngettext(
                "%(num)d %(entity)s already had that value.",
                "%(num)d %(entity)s already had that value.",
                n,
                entity=what(n),
            )
        else:
            text = ngettext(
                "%(num)d %(entity)s already had that owner.",
                "%(num)d %(entity)s already had that owner.",
                n,
                entity=what(n),
            )
        lines.append((text, []))
    if result.stale:
        text = ngettext(
            "%(num)d skipped because someone changed it since you loaded the list (reload to "
            "see their change):",
            "%(num)d skipped because someone changed them since you loaded the list (reload "
            "to see their change):",
            len(result.stale),
        )
        lines.append((text, result.stale))
    if result.blocked:
        for record_id, name, reason in result.blocked:
            if result.action == "delete":
                text = _("Not deleted: %(reason)s", reason=reason)
            else:
                text = _("Not changed: %(reason)s", reason=reason)
            lines.append((text, [(record_id, name)]))
    if result.refused:
        text = ngettext(
            "%(num)d skipped: it does not exist any more, is in the recycle bin, or you may "
            "not change it.",
            "%(num)d skipped: they do not exist any more, are in the recycle bin, or you may "
            "not change them.",
            len(result.refused),
        )
        lines.append((text, []))
    return lines


def _answer(spec, result: bulk.BulkResult) -> Response:
    lines = summary(result, spec)
    if not is_htmx():
        for text, named in lines:
            names = _(", ").join(name for _rid, name in named)
            flash(f"{text} {names}".strip(), "success" if result.done else "info")
        return redirect(url_for("records.record_list", key=spec.key))
    partial = result.stale or result.refused or result.blocked
    tone = "info" if partial or not result.done else "success"
    body = render_block(TEMPLATE, "result", spec=spec, lines=lines, tone=tone)
    response = vary(make_response(body))
    if result.done:
        trigger(response, "records-changed")
    return response


def _refused(spec, exc: ValidationFailed) -> Response:
    """A bad request (nothing picked, a bad value ...): the message, nothing changed."""
    if not is_htmx():
        flash(exc.message, "error")
        return redirect(url_for("records.record_list", key=spec.key))
    body = render_block(TEMPLATE, "result", spec=spec, lines=[(exc.message, [])], tone="error")
    return vary(make_response(body, 400))


def _bulk_field(spec, key: str):
    return {f.key: f for f in policy.visible_fields(current_user, spec, "edit")}.get(key)


@bp.post("/<key>/bulk/edit")
def bulk_edit(key: str) -> Response:
    """Set one field on the picked records (``pick`` = "<id>:<version>", ``field``, and the
    value under the field's key, or ``value`` when no typed input was loaded)."""
    spec = entity_for(key)
    policy.require(current_user, "bulk_edit", spec.key)
    try:
        picks = bulk.parse_picks(request.form.getlist("pick"))
        field_key = request.form.get("field", "")
        f = _bulk_field(spec, field_key)
        if f is None:
            raise ValidationFailed(_("Choose the field to change."))
        if request.form.get("value_for") == f.key:
            raw = raw_values([f], request.form).get(f.key)
        else:
            raw = request.form.get("value", "")
        result = bulk.bulk_edit(current_user, spec, picks, f.key, raw)
    except ValidationFailed as exc:
        return _refused(spec, exc)
    return _answer(spec, result)


@bp.post("/<key>/bulk/assign")
def bulk_assign(key: str) -> Response:
    """Give the picked records a new owner (``owner_id``)."""
    spec = entity_for(key)
    policy.require(current_user, "assign", spec.key)
    try:
        picks = bulk.parse_picks(request.form.getlist("pick"))
        result = bulk.bulk_assign(current_user, spec, picks, request.form.get("owner_id"))
    except ValidationFailed as exc:
        return _refused(spec, exc)
    return _answer(spec, result)


@bp.post("/<key>/bulk/delete")
def bulk_delete(key: str) -> Response:
    """Move the picked records to the recycle bin."""
    spec = entity_for(key)
    policy.require(current_user, "delete", spec.key)
    try:
        picks = bulk.parse_picks(request.form.getlist("pick"), need_version=False)
        result = bulk.bulk_delete(current_user, spec, picks)
    except ValidationFailed as exc:
        return _refused(spec, exc)
    return _answer(spec, result)


@bp.get("/<key>/bulk/input")
def bulk_input(key: str) -> Response:
    """The input for a new value of ``field`` (the right widget for its type)."""
    spec = entity_for(key)
    if not is_htmx():
        return redirect(url_for("records.record_list", key=spec.key))
    f = _bulk_field(spec, request.args.get("field", ""))
    form = record_form(spec, [f]) if f is not None else None
    return vary(make_response(render_block(TEMPLATE, "value_input", spec=spec, f=f, form=form)))


@bp.post("/<key>/views")
def save_view(key: str) -> Response:
    """Save the list as the user sees it (the chosen view's columns, its filters plus the
    user's own, the sort) as a private view, and open it."""
    spec = entity_for(key)
    view_id = optional_id(request.form.get("view"), what="list view", field="view")
    pool = request.form.get("pool", "")[:41]  # saved from a customer pool's list
    if view_id:
        base = list_views.get_view(view_id, current_user.id)
    elif pool:  # a pool's list starts from the built-in view (crm.pools.views._view)
        base = list_views.builtin_view(spec)
    else:
        base = list_views.default_view(spec.key, current_user.id)
    if base.entity_key != spec.key:
        raise NotFound(_("There is no such list view."))
    name = request.form.get("name", "")
    try:
        req = listing.parse_request(current_user, spec, request.form, base)
        visible = listing.readable_fields(current_user, spec)
        data = {
            "name": name,
            "columns": [c for c in base.columns if c in visible],
            "sort": [list(s) for s in (req.sort or base.sort) if s[0] in visible],
            "filters": [f.to_data() for f in (*base.filters, *req.filters) if f.field in visible],
            "is_default": request.form.get("is_default") == "y",
        }
        saved = list_views.save_private_view(spec.key, data, user_id=current_user.id)
    except ValidationFailed as exc:
        messages = [m for ms in exc.errors.values() for m in ms] or [exc.message]
        if not is_htmx():
            flash(" ".join(messages), "error")
            return redirect(url_for("records.record_list", key=spec.key, view=view_id or None))
        body = render_template(
            "records/_save_view.html", spec=spec, view=base, args=request.form, name=name,
            errors=messages, pool={"key": pool} if pool else None,
        )  # fmt: skip
        return vary(make_response(body, 400))
    flash(
        _("View “%(name)s” saved; it is listed under your views as “(mine)”.", name=saved.name),
        "success",
    )
    if pool:  # back to the pool's list, in the new view
        return redirect(url_for("pools.pool_list", key=spec.key, pool_key=pool, view=saved.id))
    return redirect(url_for("records.record_list", key=spec.key, view=saved.id))
