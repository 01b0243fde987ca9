"""Role screens: the list, a new role, and a role's page with its scope matrix (entities x
actions) and one field-rights tab per entity. Tabs swap with htmx and are plain links
without it; each tab saves with one POST."""

from __future__ import annotations

from typing import Any

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from crm.access import audit, bp, policy, roles
from crm.access.policy import ANY_ENTITY, NONE, RoleRights
from crm.access.rules import EVERY_OTHER_ENTITY
from crm.errors import Forbidden, NotFound, ValidationFailed
from crm.metadata import specs
from crm.web.htmx import redirect, render_page_or_block
from forms.access import (
    RoleDeleteForm,
    RoleSettingsForm,
    field_name,
    field_rights_form,
    grant_name,
    grants_data,
    grants_form,
    levels_for,
    name_translation_values,
    name_translations,
    new_role_form,
)

GRANTS_TAB = "grants"


def _entities() -> tuple:
    return tuple(sorted(specs.current().active_entities, key=lambda e: e.label_plural.lower()))


def _entity_keys() -> tuple[str, ...]:
    return tuple(e.key for e in _entities())


def _matrix_context() -> dict[str, Any]:
    """Rows and columns of the matrix, and the actor's own levels (to grey out)."""
    mine = policy.rights(current_user)
    rows = [(ANY_ENTITY, EVERY_OTHER_ENTITY)] + [(e.key, e.label_plural) for e in _entities()]
    return {
        "matrix_rows": rows,
        "actions": policy.AVAILABLE_ACTIONS,
        "action_labels": policy.ACTION_LABELS,
        "levels_for": levels_for,
        "level_labels": policy.LEVEL_LABELS,
        "level_short": policy.LEVEL_SHORT,
        "grant_name": grant_name,
        "field_name": field_name,
        "field_labels": policy.FIELD_LABELS,
        "field_rank": policy.FIELD_RANK,
        "mine": mine,
    }


def _show_errors(form, exc: ValidationFailed | Forbidden) -> None:
    form.add_errors(exc.errors)
    if not any(name in exc.errors for name in form._fields):
        form.form_errors.insert(0, exc.message)


@bp.get("/roles")
def role_list():
    rows = roles.listing(current_user)
    problems = {role.id: roles.edit_problems(current_user, role.id) for role, _ in rows}
    return render_template("access/roles.html", rows=rows, problems=problems)


def _own_field_caps() -> dict[tuple[str, str], str]:
    """For an access manager's new role: field rights start as their own."""
    mine = policy.rights(current_user)
    if mine.is_admin:
        return {}
    return {
        (e.key, f.key): mine.field_access(e.key, f.key)
        for e in _entities()
        for f in e.active_fields
        if mine.field_access(e.key, f.key) != policy.EDIT
    }


@bp.route("/roles/new", methods=["GET", "POST"])
def role_new():
    keys = _entity_keys()
    form = new_role_form(keys)()
    if request.method == "GET":
        for key in (ANY_ENTITY, *keys):
            for action in policy.AVAILABLE_ACTIONS:
                form[grant_name(key, action)].data = str(NONE)
    status = 200
    if form.validate_on_submit():
        try:
            role = roles.create(
                current_user,
                name=form.name.data,
                description=form.description.data or "",
                can_configure=form.can_configure.data,
                can_manage_access=form.can_manage_access.data,
                grants=grants_data(form, keys),
                fields=_own_field_caps(),
                translations=name_translations(request.form),
            )
        except (ValidationFailed, Forbidden) as exc:
            _show_errors(form, exc)
            status = exc.status
        else:
            flash(
                _(
                    "The role “%(name)s” is ready. Set its field rights on the tabs.",
                    name=role.display_name,
                ),
                "success",
            )
            return redirect(url_for("access.role_page", role_id=role.id))
    elif request.method == "POST":
        status = 400
    return render_template(
        "access/role_new.html",
        form=form,
        caps=_own_field_caps(),
        name_translations=name_translation_values(request.form, None),
        **_matrix_context(),
    ), status


def _grants_form(rules: RoleRights):
    keys = _entity_keys()
    form = grants_form(keys)(formdata=None)
    for key in (ANY_ENTITY, *keys):
        for action in policy.AVAILABLE_ACTIONS:
            form[grant_name(key, action)].data = str(rules.level(key, action))
    return form


def _fields_form(rules: RoleRights, entity):
    form = field_rights_form(f.key for f in entity.active_fields)(formdata=None)
    for f in entity.active_fields:
        form[field_name(f.key)].data = rules.field_access(entity.key, f.key)
    return form


def _tab_entity(tab: str):
    if tab == GRANTS_TAB:
        return None
    entity = specs.current().entity(tab)
    if entity is None:
        raise NotFound(_("There is no such entity."))
    return entity


def _render_role(role, *, tab: str = GRANTS_TAB, status: int = 200, **forms: Any):
    rules = roles.rights_of(role.id)
    entity = _tab_entity(tab)
    settings = forms.get("settings") or RoleSettingsForm(formdata=None, obj=role)
    grants = forms.get("grants") or _grants_form(rules)
    fields = forms.get("fields") or (_fields_form(rules, entity) if entity else None)
    listing = roles.listing(current_user)
    delete = RoleDeleteForm(formdata=None)
    others = [(r.id, r.display_name) for r, _ in listing if r.id != role.id]
    delete.move_to.choices = [("", _("— choose a role —"))] + [(str(i), n) for i, n in others]
    holders = next((n for r, n in listing if r.id == role.id), 0)
    return render_page_or_block(
        "access/role.html",
        "panel",
        status=status,
        role=role,
        rules=rules,
        name_translations=name_translation_values(
            request.form if forms.get("settings") is not None else None, role.translations
        ),
        tab=tab,
        entity=entity,
        entities=_entities(),
        settings=settings,
        grants=grants,
        fields=fields,
        delete=delete,
        holders=holders,
        problems=roles.edit_problems(current_user, role.id),
        recent=audit.recent(current_user, role_id=role.id),
        **_matrix_context(),
    )


@bp.get("/roles/<id:role_id>")
def role_page(role_id: int):
    role = roles.get(current_user, role_id)
    tab = request.args.get("tab", GRANTS_TAB)
    return _render_role(role, tab=tab)


@bp.post("/roles/<id:role_id>/settings")
def role_settings(role_id: int):
    role = roles.get(current_user, role_id)
    form = RoleSettingsForm()
    if not form.validate_on_submit():
        return _render_role(role, settings=form, status=400)
    try:
        roles.update(
            current_user,
            role.id,
            name=form.name.data,
            description=form.description.data or "",
            can_configure=form.can_configure.data,
            can_manage_access=form.can_manage_access.data,
            translations=name_translations(request.form),
        )
    except (ValidationFailed, Forbidden) as exc:
        _show_errors(form, exc)
        return _render_role(roles.get(current_user, role_id), settings=form, status=exc.status)
    flash(_("Saved."), "success")
    return redirect(url_for("access.role_page", role_id=role_id))


@bp.post("/roles/<id:role_id>/grants")
def role_grants(role_id: int):
    role = roles.get(current_user, role_id)
    keys = _entity_keys()
    form = grants_form(keys)()
    if not form.validate_on_submit():
        form.form_errors.append(
            _("Some cells hold a choice that does not exist; nothing was saved.")
        )
        return _render_role(role, grants=form, status=400)
    try:
        kept = roles.rights_of(role.id)
        roles.update(current_user, role.id, grants=grants_data(form, keys, kept))
    except (ValidationFailed, Forbidden) as exc:
        _show_errors(form, exc)
        return _render_role(roles.get(current_user, role_id), grants=form, status=exc.status)
    flash(_("Record access saved."), "success")
    return redirect(url_for("access.role_page", role_id=role_id))


@bp.post("/roles/<id:role_id>/fields/<entity_key>")
def role_fields(role_id: int, entity_key: str):
    role = roles.get(current_user, role_id)
    entity = _tab_entity(entity_key)
    if entity is None:
        raise NotFound(_("There is no such entity."))
    form = field_rights_form(f.key for f in entity.active_fields)()
    if not form.validate_on_submit():
        form.form_errors.append(_("Choose hidden, read-only or editable for every field."))
        return _render_role(role, tab=entity.key, fields=form, status=400)
    posted = {(entity.key, f.key): form[field_name(f.key)].data for f in entity.active_fields}
    try:
        roles.update(current_user, role.id, fields=posted)
    except (ValidationFailed, Forbidden) as exc:
        _show_errors(form, exc)
        return _render_role(
            roles.get(current_user, role_id), tab=entity.key, fields=form, status=exc.status
        )
    flash(_("Field rights for %(entity)s saved.", entity=entity.label_plural), "success")
    return redirect(url_for("access.role_page", role_id=role_id, tab=entity.key))


@bp.post("/roles/<id:role_id>/delete")
def role_delete(role_id: int):
    role = roles.get(current_user, role_id)
    form = RoleDeleteForm()
    others = [r.id for r, _ in roles.listing(current_user) if r.id != role.id]
    form.move_to.choices = [("", "")] + [(str(i), str(i)) for i in others]
    if not form.validate_on_submit():
        flash(_("Choose an existing role for its users."), "error")
        return _render_role(role, status=400)
    name = role.display_name
    try:
        moved = roles.delete_role(
            current_user, role.id, move_to=int(form.move_to.data) if form.move_to.data else None
        )
    except (ValidationFailed, Forbidden) as exc:
        flash(exc.message, "error")
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
        return _render_role(roles.get(current_user, role_id), status=exc.status)
    if moved:
        message = ngettext(
            "The role “%(name)s” was deleted; its %(num)d user got the chosen role instead.",
            "The role “%(name)s” was deleted; its %(num)d users got the chosen role instead.",
            moved,
            name=name,
        )
    else:
        message = _("The role “%(name)s” was deleted.", name=name)
    flash(message, "success")
    return redirect(url_for("access.role_list"))
