"""Designer: the configuration home and the entity screens."""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.designer import bp, flash_errors
from crm.errors import NotFound, ValidationFailed
from crm.metadata import specs, types
from crm.metadata.keys import key_problems, suggest_key
from crm.records.stats import live_records
from crm.schema import service
from crm.web.htmx import redirect, render_page_or_block
from forms.designer import ConfirmKeyForm, EntityEditForm, EntityForm, parts_from

# The inputs of the entity labels' "Translations" controls, by translated part.
ENTITY_INPUTS = {"singular": "tr_singular", "plural": "tr_plural"}


def nav_entities():
    compiled = specs.current()
    return sorted(compiled.entities.values(), key=lambda e: (e.archived, e.label_plural.lower()))


def entity_or_404(key: str, *, include_archived: bool = True, raw: bool = False):
    """The entity ``key`` as the reader sees it, or with its plain labels and their
    translations (``raw``: what an edit form starts from and saves)."""
    compiled = specs.raw() if raw else specs.current()
    spec = compiled.entity(key, include_archived=include_archived)
    if spec is None:
        raise NotFound(_("There is no such entity."))
    return spec


@bp.get("/")
def home():
    entities = nav_entities()
    counts = {e.key: live_records(e) for e in entities}
    return render_template(
        "designer/home.html", entities=entities, counts=counts, nav_entities=entities
    )


def _suggest(form: EntityForm) -> None:
    """Fill the key from the label until the administrator edits it."""
    if not form.key_edited.data and form.label_singular.data:
        form.key.data = suggest_key(form.label_singular.data, taken=set(specs.current().entities))


@bp.route("/entities/new", methods=["GET", "POST"])
def entity_new():
    form = EntityForm()
    status = 200
    if form.validate_on_submit():
        _suggest(form)
        try:
            service.create_entity(
                form.key.data or "",
                form.label_singular.data,
                form.label_plural.data or None,
                description=form.description.data or "",
                color=form.color.data or "",
                icon=form.icon.data or "",
                translations=parts_from(request.form, ENTITY_INPUTS, None),
                actor_id=current_user.id,
            )
        except ValidationFailed as exc:
            form.add_errors(exc.errors)  # by key; the others above the form
            status = 400
        else:
            flash(
                _(
                    "“%(label)s” is ready. Add its fields next.",
                    label=form.label_singular.data.strip(),
                ),
                "success",
            )
            return redirect(url_for("designer.entity", key=form.key.data))
    elif request.method == "POST":
        status = 400
    return render_template(
        "designer/entity_new.html",
        form=form,
        translations=parts_from(request.form, ENTITY_INPUTS, None) or {},
        nav_entities=nav_entities(),
    ), status


@bp.post("/entities/new/check")
def entity_check():
    """Inline validation while the administrator types: key suggestion and key problems."""
    form = EntityForm()
    form.validate()
    _suggest(form)
    key = form.key.data or ""
    problems = key_problems(key, what="entity key") if key else []
    if key and not problems and key in specs.current().entities:
        problems.append(_("An entity with the key “%(key)s” already exists.", key=key))
    form.key.errors = problems
    return render_page_or_block("designer/entity_new.html", "key_field", form=form)


@bp.get("/entities/<key>")
def entity(key: str):
    spec = entity_or_404(key)
    return render_template(
        "designer/entity.html",
        entity=spec,
        count=live_records(spec),
        nav_entities=nav_entities(),
        confirm=ConfirmKeyForm(),
    )


@bp.route("/entities/<key>/edit", methods=["GET", "POST"])
def entity_edit(key: str):
    spec = entity_or_404(key, raw=True)
    form = EntityEditForm(obj=spec if request.method == "GET" else None)
    translations = (
        parts_from(request.form, ENTITY_INPUTS, spec.translations)
        if request.method == "POST"
        else None
    )
    form.name_field.choices = [("", _("— the record number —"))] + [
        (f.key, f.label) for f in spec.active_fields if types.get(f.type).can_name_records
    ]
    if request.method == "GET":
        form.name_field.data = spec.name_field or ""
    status = 200
    if form.validate_on_submit():
        try:
            service.update_entity(
                key,
                label_singular=form.label_singular.data,
                label_plural=form.label_plural.data or form.label_singular.data,
                description=form.description.data or "",
                color=form.color.data or "",
                icon=form.icon.data or "",
                name_field=form.name_field.data or None,
                **({"translations": translations} if translations is not None else {}),
                actor_id=current_user.id,
            )
        except ValidationFailed as exc:
            form.add_errors(exc.errors)  # by key; the others above the form
            status = 400
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("designer.entity", key=key))
    elif request.method == "POST":
        status = 400
    return render_template(
        "designer/entity_edit.html",
        form=form,
        entity=spec,
        translations=translations if translations is not None else spec.translations,
        nav_entities=nav_entities(),
    ), status


@bp.post("/entities/<key>/archive")
def entity_archive(key: str):
    entity_or_404(key)
    service.archive_entity(key, actor_id=current_user.id)
    flash(_("Archived. Its records are kept; restore it to bring everything back."), "success")
    return redirect(url_for("designer.entity", key=key))


@bp.post("/entities/<key>/restore")
def entity_restore(key: str):
    entity_or_404(key)
    service.restore_entity(key, actor_id=current_user.id)
    flash(_("Restored."), "success")
    return redirect(url_for("designer.entity", key=key))


@bp.post("/entities/<key>/purge")
def entity_purge(key: str):
    spec = entity_or_404(key)
    form = ConfirmKeyForm()
    try:
        service.purge_entity(
            key, confirm_key=(form.confirm_key.data or "").strip(), actor_id=current_user.id
        )
    except ValidationFailed as exc:
        flash_errors(exc)
        return redirect(url_for("designer.entity", key=key))
    flash(
        _("“%(label)s” and all its records were deleted for good.", label=spec.label_plural),
        "success",
    )
    return redirect(url_for("designer.home"))
