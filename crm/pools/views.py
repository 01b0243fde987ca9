"""Pages of customer pools for staff: a pool's list (an ordinary list of its records, with
search, filters and a Claim button per row, and how many more one may claim today),
claiming (one record; htmx swaps the row's button for the outcome), and returning records
to a pool by hand (managers: the assign right). Thin views: ``crm.pools.service`` asks
the access policy."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from crm.access import policy
from crm.errors import Conflict, DomainError, Forbidden, NotFound
from crm.ids import optional_id
from crm.metadata import list_views
from crm.pools import service
from crm.pools import spec as pool_specs
from crm.pools.scope import condition as in_pool
from crm.records import listing, present
from crm.records.query import table_of
from crm.records.views import entity_for
from crm.web.htmx import hx_target, is_htmx, redirect, render_page_or_block, trigger, vary

bp = Blueprint("pools", __name__)


@bp.before_request
@login_required
def _signed_in():
    return None


def _visible_pool(spec, pool_key: str):
    pool = pool_specs.by_key(spec.key, pool_key[:41])
    if pool is None or not pool_specs.may_see(pool, policy.rights(current_user)):
        raise NotFound(_("There is no such pool."))
    return pool


def _view(spec, available):
    """The list view chosen with ``?view=`` (a shared one or the user's own), else the
    built-in one: a person's default view often lists their own records, and pool records
    have no owner."""
    view_id = optional_id(request.args.get("view"), what="list view", field="view")
    view = list_views.get_view(view_id, current_user.id) if view_id else None
    if view is not None and view.entity_key != spec.key:
        raise NotFound(_("There is no such list view."))
    return view or list_views.builtin_view(spec)


@bp.get("/r/<key>/pools/<pool_key>/")
def pool_list(key: str, pool_key: str):
    """The records of one pool the user sees, as an ordinary list: search, filters, sort,
    saved views, a Claim button per row, bulk claim, and the person's quota."""
    spec = entity_for(key)
    pool = _visible_pool(spec, pool_key)
    available = list_views.list_views(spec.key, current_user.id)
    view = _view(spec, available)
    req = listing.parse_request(current_user, spec, request.args, view)
    table = table_of(spec)
    page = listing.list_page(current_user, spec, req, within=in_pool(spec.key, (pool.id,), table))
    display = present.Display(current_user, spec, page.columns, page.rows)
    rights = policy.rights(current_user)
    # The filters' and sort links' state carries the pool: they lead back here.
    args = MultiDict(request.args)
    args.setlist("pool", [pool.key])
    block = "rows" if hx_target() in ("rows", "more-row") else "results"
    response = render_page_or_block(
        "pools/list.html",
        block,
        spec=spec,
        pool=pool,
        page=page,
        display=display,
        views=available,
        view=view,
        args=args,
        may_claim=pool_specs.may_claim(pool, rights),
        quota=service.quota(current_user, spec, pool),
        pools=[p for p in pool_specs.pools_of(spec.key) if pool_specs.may_see(p, rights)],
    )
    return vary(response, by_target=True)


@bp.post("/r/<key>/pools/<pool_key>/claim")
def claim_many(key: str, pool_key: str):
    """Claim the ticked records (``pick``) of a pool. htmx: the outcome in the bulk bar,
    the quota out of band, and the list refreshed; otherwise back to the pool's list."""
    spec = entity_for(key)
    try:
        outcomes = service.claim_many(current_user, spec, pool_key, _picked())
    except DomainError as exc:
        if is_htmx():
            body = render_template("pools/_bulk_claimed.html", message=exc.message, ok=False)
            return vary(make_response(body, exc.status))
        flash(exc.message, "error")
        return redirect(url_for("pools.pool_list", key=spec.key, pool_key=pool_key[:41]))
    won = sum(1 for o in outcomes if o.claimed)
    message = ngettext("%(num)d record claimed.", "%(num)d records claimed.", won)
    refused = [o for o in outcomes if not o.claimed]
    if is_htmx():
        pool = _visible_pool(spec, pool_key)
        body = render_template(
            "pools/_bulk_claimed.html", message=message, ok=bool(won), refused=refused,
            spec=spec, quota=service.quota(current_user, spec, pool), may_claim=True,
        )  # fmt: skip
        return trigger(vary(make_response(body)), "records-changed")
    flash(message, "success" if won else "error")
    for o in refused:
        flash(f"#{o.record_id}: {o.message}", "error")
    return redirect(url_for("pools.pool_list", key=spec.key, pool_key=pool_key[:41]))


def _claim_block(spec, record_id: int, message: str, ok: bool, status: int = 200):
    # From a pool's list: its quota line follows (out of band).
    pool = pool_specs.by_key(spec.key, request.form.get("pool", "")[:41])
    quota = None
    if pool is not None and pool_specs.may_see(pool, policy.rights(current_user)):
        quota = service.quota(current_user, spec, pool)
    body = render_template(
        "pools/_claimed.html", spec=spec, record_id=record_id, message=message, ok=ok,
        quota=quota,
    )  # fmt: skip
    return vary(make_response(body, status))


@bp.post("/r/<key>/<id:record_id>/claim")
def claim(key: str, record_id: int):
    """Claim one record from its pool. htmx: the outcome replaces the row's button (409
    and the reason when refused); otherwise back to where the user came from."""
    spec = entity_for(key)
    try:
        service.claim(current_user, spec, record_id)
    except NotFound as exc:
        # Claimed by someone else meanwhile, or never theirs to see: the same words.
        exc.message = _("This record is no longer in the pool.")
        if is_htmx():
            return _claim_block(spec, record_id, exc.message, False, exc.status)
        raise
    except (Conflict, Forbidden) as exc:
        if is_htmx():
            return _claim_block(spec, record_id, exc.message, False, exc.status)
        flash(exc.message, "error")
        return redirect(_back(spec, record_id))
    message = _("Claimed: it is yours now.")
    if is_htmx():
        return _claim_block(spec, record_id, message, True)
    flash(message, "success")
    return redirect(url_for("records.record_page", key=spec.key, record_id=record_id))


def _back(spec, record_id: int) -> str:
    pool = request.form.get("pool", "")
    if pool and pool_specs.by_key(spec.key, pool[:41]) is not None:
        return url_for("pools.pool_list", key=spec.key, pool_key=pool[:41])
    return url_for("records.record_page", key=spec.key, record_id=record_id)


@bp.post("/r/<key>/pools/return")
def return_records(key: str):
    """Return the ticked records (``ids``) to a pool (``pool``) with a reason (``note``)."""
    spec = entity_for(key)
    try:
        n = service.return_to_pool(
            current_user, spec, _picked(),
            pool_key=request.form.get("pool"), note=request.form.get("note"),
        )  # fmt: skip
    except DomainError as exc:
        if is_htmx():
            body = render_template("pools/_returned.html", message=exc.message, ok=False)
            return vary(make_response(body, exc.status))
        flash(exc.message, "error")
        return redirect(url_for("records.record_list", key=spec.key))
    message = ngettext(
        "%(num)d record returned to the pool.", "%(num)d records returned to the pool.", n
    )
    if is_htmx():
        body = render_template("pools/_returned.html", message=message, ok=True)
        return trigger(vary(make_response(body)), "records-changed")
    flash(message, "success")
    return redirect(url_for("records.record_list", key=spec.key))


def _picked() -> list[str]:
    """The ticked records: the list's ``pick`` values ("<id>:<version>") or ``ids``."""
    picks = request.form.getlist("pick") or request.form.getlist("ids")
    return [str(p).partition(":")[0] for p in picks[: service.MAX_BULK + 1]]


def register(app: Flask) -> None:
    """Register the pool pages and the administration pages (the record and list pages'
    pool globals are given by ``crm.web.templating``; the reclaim task is in
    ``crm.jobs.registry.PERIODIC``)."""
    from crm.pools import views_admin

    app.register_blueprint(bp)
    app.register_blueprint(views_admin.bp)


def pool_membership(spec, row):
    """The record page's "In pool X since ..." (None when the record has an owner)."""
    if row.get("owner_id") is not None:
        return None
    return service.membership(current_user, spec, row)


def pools_seen(spec) -> list:
    """The enabled pools of ``spec`` the user sees (links on the list page)."""
    rights = policy.rights(current_user)
    return [p for p in pool_specs.pools_of(spec.key) if pool_specs.may_see(p, rights)]
