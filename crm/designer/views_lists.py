"""Designer: the shared list views of an entity (columns, sort, filters, the default)."""

from __future__ import annotations

from flask import abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import directory
from crm.designer import bp
from crm.designer.views_entities import entity_or_404, nav_entities
from crm.errors import NotFound, ValidationFailed
from crm.metadata import list_views as lv
from crm.metadata import types
from crm.metadata.spec import EntitySpec
from crm.web.htmx import is_htmx, redirect, render_page_or_block, vary
from forms.designer import translations_from
from forms.list_views import (
    FilterRow,
    ListViewForm,
    form_data,
    row_from_args,
    row_from_spec,
)

PERIODS = [(k, lv.RELATIVE_LABELS[k]) for k in types.RELATIVE_RANGES]
SPINE_KEYS = frozenset(f.key for f in lv.SPINE_FIELDS)


def _people_in(entity: EntitySpec, views: list[lv.ListViewSpec]) -> dict[int, str]:
    ids = set()
    for view in views:
        for f in view.filters:
            field = lv.field_for(entity, f.field)
            is_person = field is not None and types.get(field.type).reference == "user"
            if is_person and f.value is not None:
                values = f.value if isinstance(f.value, tuple) else (f.value,)
                ids.update(int(v) for v in values if v.isdigit())
    return directory.user_names(ids)


def _list_context(entity: EntitySpec) -> dict:
    views = lv.list_views(entity.key, None)
    names = _people_in(entity, views)
    rows = [
        {
            "view": v,
            "columns": [lv.column_label(entity, k) for k in v.columns],
            "sort": lv.describe_sort(entity, v.sort),
            "filters": [lv.describe_filter(entity, f, names) for f in v.filters],
        }
        for v in views
    ]
    builtin = lv.builtin_view(entity)
    return {
        "entity": entity,
        "rows": rows,
        "builtin": {
            "columns": [lv.column_label(entity, k) for k in builtin.columns],
            "sort": lv.describe_sort(entity, builtin.sort),
        },
        "nav_entities": nav_entities(),
    }


@bp.get("/entities/<key>/views")
def list_views(key: str):
    entity = entity_or_404(key)
    return render_page_or_block("designer/list_views.html", "views", **_list_context(entity))


def _shared_view(entity: EntitySpec, view_id: int) -> lv.ListViewSpec:
    view = lv.get_view(view_id, None)  # a private view is not found for user None
    if view.entity_key != entity.key or not view.shared:
        raise NotFound(_("There is no such shared view."))
    return view


def _editor_context(
    entity: EntitySpec,
    form: ListViewForm,
    columns: list[str],
    rows: list[FilterRow],
    *,
    view: lv.ListViewSpec | None,
    errors: dict[str, list[str]] | None = None,
) -> dict:
    fields = lv.available_fields(entity)
    shown = [f for f in (lv.field_for(entity, k) for k in columns) if f is not None]
    errors = errors or {}
    return {
        "entity": entity,
        "view": view,
        "form": form,
        "fields": fields,
        "spine_keys": SPINE_KEYS,
        "sortable": [f for f in fields if lv.can_sort(f)],
        "shown": shown,
        "shown_keys": {f.key for f in shown},
        "rows": rows,
        "people": directory.user_names(),
        "periods": PERIODS,
        "column_errors": errors.get("columns", []),
        "sort_errors": errors.get("sort", []),
        "filter_errors": errors.get("filters", []),
        "failed": bool(errors) or bool(form.form_errors) or any(r.errors for r in rows),
        # The name's "Translations" control: as posted, else as stored.
        "name_translations": (
            translations_from(request.form, "tr_name") if request.method == "POST" else None
        )
        or (dict(view.translations) if view else {}),
        "nav_entities": nav_entities(),
    }


def _editor(key: str, view_id: int | None):
    entity = entity_or_404(key)
    if entity.archived:
        raise NotFound(_("Restore the entity before changing its list views."))
    view = _shared_view(entity, view_id) if view_id is not None else None
    if request.method == "GET":
        start = view or lv.builtin_view(entity)
        form = ListViewForm(data=form_data(start))
        if view is None:
            form.name.data, form.is_default.data = "", False
        rows = [row_from_spec(entity, i, f) for i, f in enumerate(start.filters)]
        context = _editor_context(entity, form, list(start.columns), rows, view=view)
        return render_template("designer/list_view_form.html", **context)

    form = ListViewForm()
    columns = form.columns()
    rows = form.filter_rows(entity)
    if not form.validate():  # only the CSRF token can fail here (CSRFProtect checks first)
        context = _editor_context(entity, form, columns, rows, view=view)
        return render_template("designer/list_view_form.html", **context), 400
    if form.editing:  # an arrow, "Add filter", "Update": show the form again, unsaved
        context = _editor_context(entity, form, columns, rows, view=view)
        return render_template("designer/list_view_form.html", **context)

    sent = [r for r in rows if not r.blank]
    try:
        data = form.to_data(columns, rows)
        translated = translations_from(request.form, "tr_name")
        if translated is not None:  # a post without the control keeps the stored ones
            data["translations"] = translated
        saved = lv.save_shared_view(
            key,
            data,
            actor_id=current_user.id,
            view_id=view.id if view else None,
        )
    except ValidationFailed as exc:
        errors = dict(exc.errors)
        form.name.errors = list(errors.pop("name", []))
        for where in list(errors):
            head, _dot, n = where.partition(".")
            if head == "filters" and n.isdigit() and int(n) < len(sent):
                sent[int(n)].errors.extend(errors.pop(where))
        for where, messages in errors.items():
            if where not in ("columns", "sort", "filters"):
                form.form_errors.extend(messages)
        context = _editor_context(entity, form, columns, rows, view=view, errors=errors)
        return render_template("designer/list_view_form.html", **context), 400
    flash(_("Saved the view “%(name)s”.", name=saved.name), "success")
    return redirect(url_for("designer.list_views", key=key))


@bp.route("/entities/<key>/views/new", methods=["GET", "POST"])
def list_view_new(key: str):
    return _editor(key, None)


@bp.route("/entities/<key>/views/<id:view_id>/edit", methods=["GET", "POST"])
def list_view_edit(key: str, view_id: int):
    return _editor(key, view_id)


@bp.get("/entities/<key>/views/filter-row")
def list_view_filter_row(key: str):
    """htmx: one filter row, new (no ``index``) or refreshed after its field or condition
    changed. A browser that asks without htmx is sent to the editor."""
    entity = entity_or_404(key)
    if not is_htmx():
        return redirect(url_for("designer.list_view_new", key=key))
    index = request.args.get("index")
    if index is not None and (not index.isdigit() or int(index) >= 10_000):
        abort(400)
    row = row_from_args(entity, int(index) if index is not None else None, request.args)
    body = render_template(
        "designer/_lv_filter_row.html",
        row=row,
        entity=entity,
        fields=lv.available_fields(entity),
        people=directory.user_names(),
        periods=PERIODS,
    )
    return vary(make_response(body))


def _after_list_change(entity: EntitySpec, message: str):
    if is_htmx():
        return render_page_or_block("designer/list_views.html", "views", **_list_context(entity))
    flash(message, "success")
    return redirect(url_for("designer.list_views", key=entity.key))


@bp.post("/entities/<key>/views/<id:view_id>/delete")
def list_view_delete(key: str, view_id: int):
    entity = entity_or_404(key)
    view = _shared_view(entity, view_id)
    lv.delete_shared_view(view.id, actor_id=current_user.id)
    return _after_list_change(entity, _("Deleted the view “%(name)s”.", name=view.name))


@bp.post("/entities/<key>/views/<id:view_id>/default")
def list_view_default(key: str, view_id: int):
    entity = entity_or_404(key)
    view = _shared_view(entity, view_id)
    lv.set_default_shared_view(view.id, actor_id=current_user.id)
    return _after_list_change(entity, _("“%(name)s” is now the default view.", name=view.name))
