"""Pages of pipeline analytics, the forecast with its targets, and dashboards: thin views
over ``crm.analytics`` (which applies the access policy through the scoped queries).
Every tile of a dashboard is its own request (``hx-trigger="load"``), so the grid shows
at once and one slow or refused tile does not hold the others."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.access import policy
from crm.analytics import dashboards, targets
from crm.analytics import pipeline as analytics
from crm.analytics.filters import PRESETS, parse_filters
from crm.analytics.forecast import forecast, month_bars
from crm.analytics.scope import departments_among, people_in_reach, subject
from crm.analytics.tiles import KINDS
from crm.errors import DomainError, ValidationFailed
from crm.i18n import select_timezone
from crm.metadata import specs
from crm.pipelines import board as boards
from crm.records.views import entity_for
from crm.reports import saved as saved_reports
from crm.web.htmx import is_htmx, redirect, vary

bp = Blueprint("analytics", __name__, url_prefix="/analytics")


@bp.before_request
@login_required
def _signed_in():
    return None


def pipeline_entities(user) -> list:
    """The entities with pipelines whose records ``user`` may read."""
    out = []
    for e in specs.current().active_entities:
        if policy.can(user, "read", e.key) and boards.pipelines_of(e):
            out.append(e)
    return sorted(out, key=lambda e: e.label_plural.lower())


def _filters():
    return parse_filters(request.args, select_timezone())


def _filter_context(spec, subj, filters) -> dict:
    people = people_in_reach(current_user, spec.key)
    departments = departments_among(people)
    return {
        "spec": spec,
        "subj": subj,
        "filters": filters,
        "presets": PRESETS,
        "people": people,
        "departments": departments,
        "pipelines": [(p.key, boards.pipeline_name(p)) for p in boards.pipelines_of(spec)],
        "args": request.args,
        "entities": pipeline_entities(current_user),
    }


@bp.get("/")
def index():
    """The first pipeline's analytics, or a page saying there is none."""
    entities = pipeline_entities(current_user)
    if entities:
        return redirect(url_for("analytics.pipeline_page", key=entities[0].key), 302)
    return render_template("analytics/empty.html")


@bp.get("/<key>/pipeline")
def pipeline_page(key: str):
    """Conversion, time in stage, win rates and stale deals of one pipeline."""
    spec = entity_for(key)
    subj = subject(current_user, spec, request.args.get("pipeline"))
    filters = _filters()
    days_raw = (request.args.get("stale_days") or "30").strip()
    if (
        not days_raw.isascii()
        or not days_raw.isdigit()
        or not 1 <= int(days_raw) <= analytics.MAX_STALE_DAYS
    ):
        raise ValidationFailed(
            _("Stale means no move for 1 to %(max)d days.", max=analytics.MAX_STALE_DAYS)
        )
    days = int(days_raw)
    stale_total, stale_rows = analytics.stale(current_user, subj, filters, days)
    rates = analytics.win_rates(current_user, subj, filters)
    return render_template(
        "analytics/pipeline.html",
        steps=analytics.conversion(current_user, subj, filters),
        times=analytics.time_in_stage(current_user, subj, filters),
        rates=rates,
        stale_total=stale_total,
        stale_rows=stale_rows,
        stale_days=days,
        **_filter_context(spec, subj, filters),
    )


@bp.get("/<key>/forecast")
def forecast_page(key: str):
    """The forecast of one pipeline by month, owner and department, against targets."""
    spec = entity_for(key)
    subj = subject(current_user, spec, request.args.get("pipeline"))
    filters = _filters()
    return render_template(
        "analytics/forecast.html",
        fc=(fc := forecast(current_user, subj, filters)),
        bars=month_bars(fc),
        may_set_targets=targets.may_set(current_user, spec.key),
        **_filter_context(spec, subj, filters),
    )


@bp.route("/<key>/targets", methods=["GET", "POST"])
def targets_page(key: str):
    """Targets of one month for the people the manager reaches; POST saves them all."""
    spec = entity_for(key)
    if not targets.may_set(current_user, spec.key):
        abort(403)
    month = targets.parse_month(request.values.get("month") or _this_month())
    people = targets.people(current_user, spec.key)
    errors: dict = {}
    values: dict = {}
    status = 200
    if request.method == "POST":
        amounts = {
            k[len("target-") :]: v for k, v in request.form.items() if k.startswith("target-")
        }
        try:
            changed = targets.save(current_user, spec.key, month, amounts)
        except ValidationFailed as exc:
            errors, values, status = exc.errors, amounts, 422
        else:
            flash(_("Targets saved (%(count)d changed).", count=changed), "success")
            return redirect(
                url_for("analytics.targets_page", key=spec.key, month=month.strftime("%Y-%m"))
            )
    current = targets.targets_of(spec.key, month, [p.id for p in people])
    return (
        render_template(
            "analytics/targets.html",
            spec=spec,
            month=month,
            people=people,
            current=current,
            errors=errors,
            values=values,
            max_target=targets.MAX_TARGET,
        ),
        status,
    )


def _this_month() -> str:
    from crm.timeutil import local_today

    return local_today(select_timezone()).strftime("%Y-%m")


# -- dashboards ------------------------------------------------------------------------------


@bp.route("/dashboards/", methods=["GET", "POST"])
def dashboard_list():
    """The dashboards one sees; POST makes a new one (personal, or for a role)."""
    if request.method == "POST":
        made = dashboards.create(
            current_user, request.form.get("name", ""), request.form.get("role") or None
        )
        return redirect(url_for("analytics.dashboard_page", dashboard_id=made.id))
    roles = dashboards.roles_offered(current_user)
    return render_template(
        "analytics/dashboards.html", boards=dashboards.visible(current_user), roles=roles
    )


@bp.get("/dashboards/<id:dashboard_id>")
def dashboard_page(dashboard_id: int):
    """One dashboard: its grid of tiles, each loading itself."""
    dashboard = dashboards.get(current_user, dashboard_id)
    filters = _filters()
    may_change = dashboards.may_change(current_user, dashboard)
    reports = saved_reports.visible_reports(current_user) if may_change else []
    return render_template(
        "analytics/dashboard.html",
        reports=reports,
        report_names={r.id: r.name for r in reports},
        dashboard=dashboard,
        tiles=dashboards.tiles(dashboard),
        kinds=KINDS,
        may_change=may_change,
        entities=[
            e for e in specs.current().active_entities if policy.can(current_user, "read", e.key)
        ],
        filters=filters,
        presets=PRESETS,
        args=request.args,
    )


@bp.post("/dashboards/<id:dashboard_id>/tiles")
def tile_add(dashboard_id: int):
    dashboard = dashboards.get(current_user, dashboard_id)
    dashboards.add_tile(
        current_user,
        dashboard,
        request.form.get("kind", ""),
        request.form.get("entity", ""),
        request.form,
    )
    return redirect(url_for("analytics.dashboard_page", dashboard_id=dashboard.id))


@bp.post("/dashboards/<id:dashboard_id>/tiles/<id:tile_id>/delete")
def tile_delete(dashboard_id: int, tile_id: int):
    dashboard = dashboards.get(current_user, dashboard_id)
    dashboards.remove_tile(current_user, dashboard, tile_id)
    return redirect(url_for("analytics.dashboard_page", dashboard_id=dashboard.id))


@bp.post("/dashboards/<id:dashboard_id>/order")
def tile_order(dashboard_id: int):
    """The tiles' new order (``tile`` repeated, in order), sent by drag and drop."""
    dashboard = dashboards.get(current_user, dashboard_id)
    dashboards.reorder(current_user, dashboard, request.form.getlist("tile"))
    if is_htmx():
        return _fragment("analytics/_saved.html")
    return redirect(url_for("analytics.dashboard_page", dashboard_id=dashboard.id))


@bp.get("/tiles/<id:tile_id>")
def tile_body(tile_id: int):
    """One tile worked out for the viewer (a fragment); a tile it cannot show says why."""
    tile = dashboards.get_tile(current_user, tile_id)
    kind = KINDS.get(tile.kind)
    filters = _filters()
    context: dict = {"tile": tile, "kind": kind, "filters": filters}
    if kind is None:
        context["problem"] = _("This kind of tile is not available.")
        return _fragment("analytics/tiles/problem.html", **context)
    try:
        context.update(kind.compute(current_user, tile.config or {}, filters))
    except DomainError as exc:
        context["problem"] = exc.message
        return _fragment("analytics/tiles/problem.html", **context)
    return _fragment(kind.template, **context)


def _fragment(template: str, **context):
    return vary(make_response(render_template(template, **context)))


def register(app: Flask) -> None:
    app.register_blueprint(bp)
