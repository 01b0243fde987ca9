"""User management screens: the list with its search, creating a user with a one-time
invitation link, a user's page (department, roles, re-invite, deactivate)."""

from __future__ import annotations

from typing import Any

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import audit, bp, departments, invites, policy, users
from crm.access.rules import user_problems
from crm.errors import Forbidden, ValidationFailed
from crm.web.htmx import redirect, render_page_or_block
from forms.access import (
    NO_CHOICE,
    AdminNewUserForm,
    AdminUserForm,
    NewUserForm,
    UserFilterForm,
    UserForm,
    optional_id,
)


def _department_choices(blank: str) -> list[tuple[str, str]]:
    nodes = departments.flat(departments.tree(current_user))
    return [(NO_CHOICE, blank)] + [
        (str(n.department.id), "\u2003" * n.depth + n.department.display_name) for n in nodes
    ]


def _role_choices() -> list[tuple[int, str]]:
    from crm.access import roles

    return [(r.id, r.display_name) for r, _count in roles.listing(current_user)]


def _user_form_context() -> dict[str, Any]:
    """What the form needs to grey out: roles and departments the actor cannot give."""
    return {
        "role_blocked": users.grantable_roles(current_user),
        "placeable": users.placeable_departments(current_user),
    }


def _show_errors(form, exc: ValidationFailed | Forbidden) -> None:
    form.add_errors(exc.errors)
    if not exc.errors:
        form.form_errors.append(exc.message)
    elif not any(name in exc.errors for name in form._fields):
        form.form_errors.insert(0, exc.message)


@bp.get("/")
def home():
    return redirect(url_for("access.user_list"))


@bp.get("/users")
def user_list():
    form = UserFilterForm(request.args)
    form.department.choices = _department_choices(_("Any department"))
    form.role.choices = [(NO_CHOICE, _("Any role"))] + [(str(i), n) for i, n in _role_choices()]
    status = 200
    if not form.validate():
        status = 400
        for name in form.errors:
            form[name].data = NO_CHOICE if name != "q" else ""
    page = users.listing(
        current_user,
        q=form.q.data or "",
        department_id=optional_id(form.department.data),
        role_id=optional_id(form.role.data),
        status=form.status.data or "",
        page=request.args.get("page", 1, type=int),
    )
    return render_page_or_block(
        "access/users.html", "rows", status=status, form=form, page=page, args=request.args
    )


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    admin = policy.rights(current_user).is_admin
    form = AdminNewUserForm() if admin else NewUserForm()
    form.department.choices = _department_choices(_("No department"))
    form.roles.choices = _role_choices()
    status = 200
    if form.validate_on_submit():
        try:
            user, token = users.create(
                current_user,
                email=form.email.data,
                display_name=form.display_name.data,
                department_id=optional_id(form.department.data),
                role_ids=form.roles.data or [],
                is_admin=bool(admin and form.is_admin.data),
            )
        except (ValidationFailed, Forbidden) as exc:
            _show_errors(form, exc)
            status = exc.status
        else:
            # The raw token is shown once, in this very answer: it is never stored on the
            # server nor put in the (signed, readable) session cookie.
            flash(
                _("%(name)s can now join with the link below.", name=user.display_name), "success"
            )
            return _render_user(user, _edit_form(user), token=token)
    elif request.method == "POST":
        status = 400
    return render_template("access/user_new.html", form=form, **_user_form_context()), status


def _edit_form(user, *, posted: bool = False):
    admin = policy.rights(current_user).is_admin
    cls = AdminUserForm if admin else UserForm
    form = cls() if posted else cls(formdata=None, data=_initial(user, admin))
    form.department.choices = _department_choices(_("No department"))
    form.roles.choices = _role_choices()
    return form


def _initial(user, admin: bool) -> dict[str, Any]:
    data = {
        "display_name": user.display_name,
        "department": str(user.department_id) if user.department_id else NO_CHOICE,
        "roles": [r.id for r in user.roles],
    }
    if admin:
        data["is_admin"] = user.is_admin
    return data


def _render_user(user, form, status: int = 200, token: str | None = None):
    """The user's page; with ``token``, the one-time invitation link shown this once."""
    link = url_for("invite.accept", token=token, _external=True) if token else None
    return render_template(
        "access/user.html",
        user=user,
        form=form,
        blocked=user_problems(current_user, user),
        is_self=user.id == current_user.id,
        invited=not invites.has_password(user),
        invite=invites.latest(user.id),
        invite_link=link,
        recent=audit.recent(current_user, user_id=user.id),
        **_user_form_context(),
    ), status


@bp.get("/users/<id:user_id>")
def user_page(user_id: int):
    user = users.get(current_user, user_id)
    return _render_user(user, _edit_form(user))


@bp.post("/users/<id:user_id>")
def user_save(user_id: int):
    user = users.get(current_user, user_id)
    form = _edit_form(user, posted=True)
    if not form.validate_on_submit():
        return _render_user(user, form, 400)
    admin = isinstance(form, AdminUserForm)
    try:
        users.update(
            current_user,
            user.id,
            display_name=form.display_name.data,
            department_id=optional_id(form.department.data),
            role_ids=form.roles.data or [],
            is_admin=form.is_admin.data if admin else None,
        )
    except (ValidationFailed, Forbidden) as exc:
        _show_errors(form, exc)
        return _render_user(users.get(current_user, user_id), form, exc.status)
    flash(_("Saved."), "success")
    return redirect(url_for("access.user_page", user_id=user_id))


def _refused(user_id: int, exc: ValidationFailed | Forbidden):
    """The user page again, with the reasons on top and the refusal's status."""
    flash(exc.message, "error")
    for messages in exc.errors.values():
        for message in messages:
            flash(message, "error")
    user = users.get(current_user, user_id)
    return _render_user(user, _edit_form(user), exc.status)


@bp.post("/users/<id:user_id>/invite")
def user_invite(user_id: int):
    try:
        token = users.reinvite(current_user, user_id)
    except (ValidationFailed, Forbidden) as exc:
        return _refused(user_id, exc)
    flash(_("A new link is ready; older links no longer work."), "success")
    user = users.get(current_user, user_id)
    return _render_user(user, _edit_form(user), token=token)


def _set_active(user_id: int, active: bool):
    try:
        user = users.set_active(current_user, user_id, active)
    except (ValidationFailed, Forbidden) as exc:
        return _refused(user_id, exc)
    else:
        flash(
            _("%(name)s is active again.", name=user.display_name)
            if active
            else _("%(name)s is deactivated and signed out everywhere.", name=user.display_name),
            "success",
        )
    return redirect(url_for("access.user_page", user_id=user_id))


@bp.post("/users/<id:user_id>/deactivate")
def user_deactivate(user_id: int):
    return _set_active(user_id, False)


@bp.post("/users/<id:user_id>/reactivate")
def user_reactivate(user_id: int):
    return _set_active(user_id, True)
