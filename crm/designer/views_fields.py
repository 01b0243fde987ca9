"""Designer: adding and editing fields, picklist values, type changes, archive and purge."""

from __future__ import annotations

import dataclasses

from flask import abort, flash, render_template, request, url_for
from flask_babel import format_decimal, format_number
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import policy
from crm.designer import bp, flash_errors
from crm.designer.views_entities import entity_or_404, nav_entities
from crm.errors import NotFound, ValidationFailed
from crm.metadata import specs, types
from crm.metadata.keys import key_problems, suggest_key
from crm.metadata.palette import colour_choices
from crm.schema import service
from crm.web.htmx import redirect, render_page_or_block
from forms.designer import ConfirmKeyForm, FieldForm, choices_from_form, parts_from
from forms.errors import attach_errors

# The inputs of the field labels' "Translations" controls, by translated part.
FIELD_INPUTS = {"label": "tr_label", "help": "tr_help"}

# The designer offers the types in the registry's order (not the managed ones: their
# fields are added by the feature that owns them, e.g. the pipeline editor).
TYPE_ORDER = [k for k, t in types.REGISTRY.items() if not t.managed]

# Every type option has a designer input of its name (``forms.designer.FieldForm``).
OPTION_FIELDS = tuple(dict.fromkeys(o.name for t in types.REGISTRY.values() for o in t.options))


def _options_from(form: FieldForm, field_type: str) -> dict:
    """The type options a form carries for ``field_type`` (others are ignored)."""
    options: dict = {}
    for option in types.get(field_type).options:
        value = option.from_form(getattr(form, option.name).data)
        if value is not None:
            options[option.name] = value
    return options


def _prepare(form: FieldForm, entity, field_type: str, *, allowed_types: list[str]) -> None:
    form.type.choices = [(t, types.get(t).label) for t in allowed_types]
    form.target.choices = [("", "—")] + [
        (e.key, e.label_plural) for e in specs.current().active_entities
    ]
    if not form.type.data:
        form.type.data = field_type


# The settings the field form shows as inputs with room for their errors. The schema
# service keys a field's errors "entity.field.<setting>"; any other key (the field as a
# whole, its choices, the required/unique boxes) is shown above the form.
SHOWN_ON_NEW = ("key", "label", "help_text", "default", *OPTION_FIELDS)
SHOWN_ON_EDIT = (
    "type", "label", "help_text", "default",
    *(name for name in OPTION_FIELDS if name != "target"),  # a lookup's target is fixed
)  # fmt: skip


def _apply_errors(
    form: FieldForm, errors: dict[str, list[str]], entity_key: str, field_key: str, shown
) -> None:
    """Put the schema service's errors on the inputs their keys name, by key only."""
    loose = attach_errors(form, errors, prefix=f"{entity_key}.{field_key}.", fields=shown)
    form.form_errors.extend(loose)


def _type_or_none() -> str | None:
    t = request.args.get("type") or request.form.get("type")
    return t if t in TYPE_ORDER else None


@bp.route("/entities/<key>/fields/new", methods=["GET", "POST"])
def field_new(key: str):
    entity = entity_or_404(key, include_archived=False)
    field_type = _type_or_none()
    if field_type is None:
        if request.method == "POST":
            abort(400)
        return render_template(
            "designer/field_types.html",
            entity=entity,
            type_order=TYPE_ORDER,
            nav_entities=nav_entities(),
        )
    form = FieldForm()
    _prepare(form, entity, field_type, allowed_types=[field_type])
    if request.method == "GET":
        for option in types.get(field_type).options:
            # Inputs start at a meaningful default (not at an empty prefix or 0 digits).
            if option.input in ("number", "text") and option.default not in (None, "", 0):
                getattr(form, option.name).data = option.default
    choices = choices_from_form(request.form) if request.method == "POST" else []
    status = 200
    if form.validate_on_submit():
        if not form.key_edited.data or not form.key.data:
            form.key.data = suggest_key(form.label.data, taken={f.key for f in entity.fields})
        try:
            service.add_field(
                key,
                form.key.data,
                field_type,
                form.label.data,
                help_text=form.help_text.data or "",
                required=form.required.data,
                unique=form.unique.data,
                searchable=form.searchable.data,
                default=form.default.data or None,
                options=_options_from(form, field_type),
                choices=choices if types.get(field_type).has_choices else None,
                translations=parts_from(request.form, FIELD_INPUTS, None),
                actor_id=current_user.id,
            )
        except ValidationFailed as exc:
            _apply_errors(form, exc.errors, key, form.key.data, SHOWN_ON_NEW)
            status = 400
        else:
            flash(
                _(
                    "Field “%(label)s” added. It is on the form layout already.",
                    label=form.label.data.strip(),
                ),
                "success",
            )
            return redirect(url_for("designer.entity", key=key))
    elif request.method == "POST":
        status = 400
    return render_template(
        "designer/field_form.html",
        entity=entity,
        form=form,
        field=None,
        field_type=field_type,
        choices=choices,
        translations=parts_from(request.form, FIELD_INPUTS, None) or {},
        colours=colour_choices(),
        nav_entities=nav_entities(),
    ), status


@bp.post("/entities/<key>/fields/check")
def field_check(key: str):
    """Inline validation of the field key while the administrator types."""
    entity = entity_or_404(key)
    form = FieldForm()
    form.validate()
    if not form.key_edited.data and form.label.data:
        form.key.data = suggest_key(form.label.data, taken={f.key for f in entity.fields})
    value = form.key.data or ""
    problems = key_problems(value, what="field key") if value else []
    if value and not problems and entity.field(value, include_archived=True):
        problems.append(_("The field key “%(key)s” is already used in this entity.", key=value))
    form.key.errors = problems
    # Without htmx (no JavaScript) the whole form comes back: it needs what the page does.
    field_type = _type_or_none() or "text"
    _prepare(form, entity, field_type, allowed_types=[field_type])
    return render_page_or_block(
        "designer/field_form.html",
        "key_field",
        form=form,
        field=None,
        entity=entity,
        field_type=field_type,
        choices=choices_from_form(request.form),
        colours=colour_choices(),
        nav_entities=nav_entities(),
    )


@bp.post("/entities/<key>/fields/choice-row")
def choice_row(key: str):
    """One more empty row for the picklist values editor (htmx)."""
    entity_or_404(key)
    return render_template("designer/_choice_row.html", choice=None, colours=colour_choices())


def _field_or_404(entity, field_key: str):
    field = entity.field(field_key, include_archived=True)
    if field is None:
        raise NotFound(_("There is no such field."))
    return field


@bp.route("/entities/<key>/fields/<field_key>", methods=["GET", "POST"])
def field_edit(key: str, field_key: str):
    entity = entity_or_404(key, raw=True)  # the plain labels and their translations
    field = _field_or_404(entity, field_key)
    allowed = [field.type] + [b for (a, b) in types.SAFE_CONVERSIONS if a == field.type]
    form = FieldForm(obj=None)
    _prepare(form, entity, field.type, allowed_types=allowed)
    if request.method == "GET":
        form.label.data = field.label
        form.key.data = field.key
        form.type.data = field.type
        form.help_text.data = field.help_text
        form.required.data = field.required
        form.unique.data = field.unique
        form.searchable.data = field.searchable
        form.default.data = "" if field.default is None else str(field.default)
        for name in OPTION_FIELDS:
            if name in field.options:
                getattr(form, name).data = field.options[name]
    new_type = form.type.data if form.type.data in allowed else field.type
    choices = (
        choices_from_form(request.form)
        if request.method == "POST"
        else [c.__dict__ for c in field.choices]
    )
    translations = (
        parts_from(request.form, FIELD_INPUTS, field.translations)
        if request.method == "POST"
        else None
    )
    preview = None
    status = 200
    if form.validate_on_submit():
        changes = {
            "label": form.label.data,
            "help_text": form.help_text.data or "",
            "required": form.required.data,
            "unique": form.unique.data,
            "searchable": form.searchable.data,
            "default": form.default.data or None,
            "options": _options_from(form, new_type),
        }
        if translations is not None:
            changes["translations"] = translations
        if types.get(new_type).has_choices and not types.get(new_type).managed:
            stored = {c.key: dict(c.labels) for c in field.choices}
            changes["choices"] = [
                c if "labels" in c else {**c, "labels": stored.get(c["key"], {})} for c in choices
            ]
        if new_type != field.type:
            changes["type"] = new_type
            if request.form.get("confirm_type") != new_type:
                preview = service.preview_type_change(key, field_key, new_type, changes["options"])
                if not policy.rights(current_user).is_admin:
                    # Configuration is not a data right: quote stored values only to those
                    # who may read every record and field (full administrators).
                    preview = dataclasses.replace(preview, examples=())
        if preview is None:
            try:
                service.update_field(key, field_key, actor_id=current_user.id, **changes)
            except ValidationFailed as exc:
                errors = exc.errors
                if not policy.rights(current_user).is_admin:
                    errors = {k: [_without_examples(m) for m in v] for k, v in errors.items()}
                _apply_errors(form, errors, key, field_key, SHOWN_ON_EDIT)
                status = 400
            else:
                flash(_("Field saved."), "success")
                return redirect(url_for("designer.entity", key=key))
    elif request.method == "POST":
        status = 400
    return render_template(
        "designer/field_form.html",
        entity=entity,
        form=form,
        field=field,
        field_type=new_type,
        choices=choices,
        translations=translations if translations is not None else field.translations,
        colours=colour_choices(),
        preview=preview,
        preview_numbers=_preview_numbers(preview),
        confirm=ConfirmKeyForm(),
        nav_entities=nav_entities(),
    ), status


@bp.post("/entities/<key>/fields/<field_key>/archive")
def field_archive(key: str, field_key: str):
    entity = entity_or_404(key)
    _field_or_404(entity, field_key)
    try:
        service.archive_field(key, field_key, actor_id=current_user.id)
    except ValidationFailed as exc:
        flash_errors(exc)
        return redirect(url_for("designer.field_edit", key=key, field_key=field_key))
    flash(_("Field archived: hidden everywhere, values kept. Restore it any time."), "success")
    return redirect(url_for("designer.entity", key=key))


@bp.post("/entities/<key>/fields/<field_key>/restore")
def field_restore(key: str, field_key: str):
    entity = entity_or_404(key)
    _field_or_404(entity, field_key)
    service.restore_field(key, field_key, actor_id=current_user.id)
    flash(_("Field restored with its values."), "success")
    return redirect(url_for("designer.entity", key=key))


@bp.post("/entities/<key>/fields/<field_key>/purge")
def field_purge(key: str, field_key: str):
    entity = entity_or_404(key)
    field = _field_or_404(entity, field_key)
    form = ConfirmKeyForm()
    try:
        service.purge_field(
            key,
            field_key,
            confirm_key=(form.confirm_key.data or "").strip(),
            actor_id=current_user.id,
        )
    except ValidationFailed as exc:
        flash_errors(exc)
        return redirect(url_for("designer.field_edit", key=key, field_key=field_key))
    flash(_("“%(label)s” and its values were deleted for good.", label=field.label), "success")
    return redirect(url_for("designer.entity", key=key))


def _preview_numbers(preview) -> dict[str, str]:
    """A type change preview's counts and time, written as the reader's language writes
    numbers."""
    if preview is None:
        return {}
    return {
        "total": format_number(preview.total),
        "unconvertible": format_number(preview.unconvertible),
        "seconds": format_decimal(preview.estimated_seconds),
    }


def _without_examples(message: str) -> str:
    """A preflight message without the stored values it quotes (its ``redacted`` form,
    ``crm.schema.preflight.QuotingMessage``); other messages quote none."""
    return getattr(message, "redacted", message)
