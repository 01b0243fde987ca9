"""Token pages: one's own tokens on the account menu (create, list, revoke) and, for the
access managers, every token with revoke. A new token's secret is shown on the page that
answers its creation, once (never stored, never sent again)."""

from __future__ import annotations

from flask import Blueprint, Response, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.access import policy
from crm.api import tokens
from crm.errors import ValidationFailed
from crm.metadata import specs
from crm.timeutil import utcnow
from crm.web.htmx import redirect
from forms.api_tokens import RevokeForm, TokenForm

bp = Blueprint("api_tokens", __name__, url_prefix="/account/api-tokens")
admin_bp = Blueprint("api_tokens_admin", __name__, url_prefix="/admin/api-tokens")


@bp.before_request
@login_required
def _signed_in():
    return None


@admin_bp.before_request
@login_required
def _manage_access_required():
    policy.require(current_user, policy.MANAGE_ACCESS)


def _entity_choices() -> list[tuple[str, str]]:
    user = current_user._get_current_object()
    return [
        (key, spec.label_plural)
        for key, spec in sorted(specs.current().entities.items())
        if not spec.archived and policy.can(user, "read", spec)
    ]


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/", methods=["GET", "POST"])
def token_list():
    form = TokenForm()
    form.entities.choices = _entity_choices()
    status, created = 200, None
    if form.validate_on_submit():
        try:
            created = tokens.create(
                current_user._get_current_object(),
                form.name.data,
                read_only=bool(form.read_only.data),
                expires_days=form.expires.data,
                entities=form.entities.data or None,
            )
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
            status = 400
        else:
            form = TokenForm(formdata=None)
            form.entities.choices = _entity_choices()
    elif request.method == "POST":
        status = 400
    page = render_template(
        "api_tokens/list.html",
        form=form,
        rows=tokens.of_user(current_user),
        created=created,
        revoke=RevokeForm(),
        now=utcnow(),
    )
    return _no_store(make_response(page, status))


@bp.post("/<id:token_id>/revoke")
def token_revoke(token_id: int):
    form = RevokeForm()
    if not form.validate_on_submit():
        return redirect(url_for("api_tokens.token_list"))
    token = tokens.revoke(token_id, by=current_user)
    flash(_("Token %(name)s revoked.", name=token.name), "success")
    return redirect(url_for("api_tokens.token_list"))


@admin_bp.get("/")
def all_tokens():
    return render_template(
        "api_tokens/admin.html", rows=tokens.everyone(), revoke=RevokeForm(), now=utcnow()
    )


@admin_bp.post("/<id:token_id>/revoke")
def admin_revoke(token_id: int):
    form = RevokeForm()
    if not form.validate_on_submit():
        return redirect(url_for("api_tokens_admin.all_tokens"))
    token = tokens.revoke(token_id, by=current_user, any_owner=True)
    flash(_("Token %(name)s revoked.", name=token.name), "success")
    return redirect(url_for("api_tokens_admin.all_tokens"))
