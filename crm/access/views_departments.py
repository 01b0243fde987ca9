"""The department tree: an indented tree with managers and member counts; full
administrators add, rename, move, set managers and delete; access managers read it."""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import bp, departments, directory, policy
from crm.access.service import require_admin
from crm.errors import Forbidden, ValidationFailed
from crm.web.htmx import redirect
from forms.access import (
    NO_CHOICE,
    DepartmentEditForm,
    DepartmentForm,
    DepartmentMoveForm,
    name_translation_values,
    name_translations,
    optional_id,
)


def _parent_choices(nodes, *, exclude_path: str | None = None) -> list[tuple[str, str]]:
    """Every department (indented), except ``exclude_path``'s subtree (for a move)."""
    return [(NO_CHOICE, _("— the top level —"))] + [
        (str(n.department.id), "\u2003" * n.depth + n.department.display_name)
        for n in departments.flat(nodes)
        if not (exclude_path and n.department.path.startswith(exclude_path))
    ]


def _manager_choices() -> list[tuple[str, str]]:
    people = directory.active_people()
    return [(NO_CHOICE, _("— no manager —"))] + [(str(i), f"{n} ({e})") for i, n, e in people]


def _show_errors(form, exc: ValidationFailed | Forbidden) -> None:
    form.add_errors(exc.errors)
    if not any(name in exc.errors for name in form._fields):
        form.form_errors.insert(0, exc.message)


def _tree_page(form: DepartmentForm | None = None, status: int = 200):
    nodes = departments.tree(current_user)
    admin = policy.rights(current_user).is_admin
    if admin and form is None:
        form = DepartmentForm(formdata=None)
        wanted = request.args.get("parent", "")
        form.parent.data = wanted if wanted.isdigit() else NO_CHOICE
    if form is not None:
        form.parent.choices = _parent_choices(nodes)
        form.manager.choices = _manager_choices()
    values = name_translation_values(request.form if form is not None else None, None)
    return render_template(
        "access/departments.html",
        nodes=nodes,
        form=form,
        admin=admin,
        name_translations=values,
    ), status


@bp.get("/departments")
def department_tree():
    return _tree_page()


def _admin_only() -> None:
    """Refuse before reading the form: only full administrators change the tree."""
    require_admin(current_user, departments.CHANGE_TREE)


@bp.post("/departments/new")
def department_new():
    _admin_only()
    form = DepartmentForm()
    nodes = departments.tree(current_user)
    form.parent.choices = _parent_choices(nodes)
    form.manager.choices = _manager_choices()
    if not form.validate_on_submit():
        return _tree_page(form, 400)
    try:
        department = departments.create(
            current_user,
            name=form.name.data,
            parent_id=optional_id(form.parent.data),
            manager_id=optional_id(form.manager.data),
            translations=name_translations(request.form),
        )
    except ValidationFailed as exc:
        _show_errors(form, exc)
        return _tree_page(form, exc.status)
    flash(_("“%(name)s” was added.", name=department.display_name), "success")
    return redirect(url_for("access.department_tree"))


def _department_page(department, *, edit=None, move=None, status: int = 200):
    nodes = departments.tree(current_user)
    node = next(n for n in departments.flat(nodes) if n.department.id == department.id)
    admin = policy.rights(current_user).is_admin
    posted_edit = edit is not None
    if admin:
        edit = edit or DepartmentEditForm(
            formdata=None,
            data={
                "name": department.name,
                "manager": str(department.manager_id) if department.manager_id else NO_CHOICE,
            },
        )
        edit.manager.choices = _manager_choices()
        move = move or DepartmentMoveForm(
            formdata=None,
            data={"parent": str(department.parent_id) if department.parent_id else NO_CHOICE},
        )
        move.parent.choices = _parent_choices(nodes, exclude_path=department.path)
    members = directory.members_of(department.id)
    chain = [n for n in departments.flat(nodes) if department.path.startswith(n.department.path)]
    return render_template(
        "access/department.html",
        department=department,
        name_translations=name_translation_values(
            request.form if posted_edit else None, department.translations
        ),
        node=node,
        chain=chain,
        members=members,
        edit=edit,
        move=move,
        admin=admin,
    ), status


@bp.get("/departments/<id:department_id>")
def department_page(department_id: int):
    return _department_page(departments.get(current_user, department_id))


@bp.post("/departments/<id:department_id>")
def department_save(department_id: int):
    _admin_only()
    department = departments.get(current_user, department_id)
    form = DepartmentEditForm()
    form.manager.choices = _manager_choices()
    if not form.validate_on_submit():
        return _department_page(department, edit=form, status=400)
    try:
        departments.update(
            current_user,
            department.id,
            name=form.name.data,
            manager_id=optional_id(form.manager.data),
            translations=name_translations(request.form),
        )
    except ValidationFailed as exc:
        _show_errors(form, exc)
        return _department_page(
            departments.get(current_user, department_id), edit=form, status=exc.status
        )
    flash(_("Saved."), "success")
    return redirect(url_for("access.department_page", department_id=department_id))


@bp.post("/departments/<id:department_id>/move")
def department_move(department_id: int):
    _admin_only()
    department = departments.get(current_user, department_id)
    form = DepartmentMoveForm()
    form.parent.choices = _parent_choices(departments.tree(current_user))
    if not form.validate_on_submit():
        return _department_page(department, move=form, status=400)
    try:
        departments.move(current_user, department.id, optional_id(form.parent.data))
    except ValidationFailed as exc:
        _show_errors(form, exc)
        return _department_page(
            departments.get(current_user, department_id), move=form, status=exc.status
        )
    flash(_("Moved. Everything below it moved along."), "success")
    return redirect(url_for("access.department_page", department_id=department_id))


@bp.post("/departments/<id:department_id>/delete")
def department_delete(department_id: int):
    _admin_only()
    department = departments.get(current_user, department_id)
    name = department.display_name
    try:
        departments.delete(current_user, department.id)
    except ValidationFailed as exc:
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
        return _department_page(departments.get(current_user, department_id), status=exc.status)
    flash(_("“%(name)s” was deleted.", name=name), "success")
    return redirect(url_for("access.department_tree"))
