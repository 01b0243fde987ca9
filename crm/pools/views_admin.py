"""Administration of customer pools (/admin/pools/): the list, a new pool, editing one and
deleting it. Every route needs the configure right (checked before any view runs)."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.access import policy
from crm.errors import ValidationFailed
from crm.metadata import specs
from crm.pools import config
from crm.web.htmx import redirect
from forms.designer import translations_from

bp = Blueprint("pools_admin", __name__, url_prefix="/admin/pools")


@bp.before_request
@login_required
def _configure_required():
    policy.require(current_user, policy.CONFIGURE)


@bp.get("/")
def pool_admin_list():
    """Every pool, by entity."""
    return render_template(
        "pools/admin_list.html", pools=config.all_pools(), entities=specs.current().entities
    )


def _posted() -> dict:
    form = request.form
    data = {k: form.get(k) for k in ("key", "entity_key", "name", "protected_field")}
    data.update({k: form.get(k) for k in config.NUMBERS})
    data.update({k: form.getlist(k) for k in config.AUDIENCES})
    data["enabled"] = form.get("enabled") == "y"
    data["translations"] = translations_from(form, "tr_name") or {}
    return data


def _form(pool, data: dict | None, errors: dict | None = None, status: int = 200):
    entity_key = (pool.entity_key if pool is not None else None) or (data or {}).get("entity_key")
    values = data if data is not None else _values(pool)
    body = render_template(
        "pools/admin_form.html",
        pool=pool,
        values=values,
        errors=errors or {},
        entities=specs.current().active_entities,
        roles=config.role_choices(),
        departments=config.department_choices(),
        protected=config.protected_choices(entity_key) if entity_key else [],
        numbers=config.NUMBERS,
    )
    return body, status


def _values(pool) -> dict:
    if pool is None:
        return {"enabled": True, **dict.fromkeys(config.NUMBERS, 0), "translations": {}}
    out = {k: getattr(pool, k) for k in ("key", "entity_key", "name", "protected_field")}
    out.update({k: getattr(pool, k) for k in config.NUMBERS})
    out.update({k: [str(v) for v in getattr(pool, k) or []] for k in config.AUDIENCES})
    out["enabled"] = pool.enabled
    out["translations"] = dict(pool.translations or {})
    return out


@bp.route("/new", methods=["GET", "POST"])
def pool_new():
    """A new pool: the form, and saving it."""
    if request.method == "GET":
        return _form(None, None)
    data = _posted()
    try:
        config.save(current_user, data)
    except ValidationFailed as exc:
        return _form(None, data, exc.errors, 400)
    flash(_("Pool saved."), "success")
    return redirect(url_for("pools_admin.pool_admin_list"))


@bp.route("/<id:pool_id>/", methods=["GET", "POST"])
def pool_edit(pool_id: int):
    """One pool: the form, and saving it."""
    pool = config.get_pool(pool_id)
    if request.method == "GET":
        return _form(pool, None)
    data = _posted()
    try:
        config.save(current_user, data, pool_id)
    except ValidationFailed as exc:
        return _form(pool, data, exc.errors, 400)
    flash(_("Pool saved."), "success")
    return redirect(url_for("pools_admin.pool_admin_list"))


@bp.post("/<id:pool_id>/delete")
def pool_delete(pool_id: int):
    """Delete a pool (its records move to the entity's next pool, if any)."""
    config.remove(current_user, pool_id)
    flash(_("Pool deleted."), "success")
    return redirect(url_for("pools_admin.pool_admin_list"))
