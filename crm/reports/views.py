"""Report pages: the builder (htmx refreshes its menus and preview as choices change),
saved reports (list, open, save, delete) and exports of a result as CSV or XLSX. Thin
views: parse, call ``crm.reports`` services, render or redirect.

Every record read goes through ``engine.run`` (the viewer's scope and readable fields);
a saved report is opened only by its owner or a member of a role it is shared with
(404 otherwise), and runs with the opener's own scope."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from crm.analytics import dashboards
from crm.errors import NotFound, ValidationFailed
from crm.ids import as_id, parse_id
from crm.metadata import specs
from crm.records.export import sheet_title
from crm.reports import builder as builders
from crm.reports import definition as d
from crm.reports import export, saved
from crm.reports import tile as report_tile
from crm.reports.engine import run
from crm.timeutil import utcnow
from crm.web.htmx import redirect, render_page_or_block

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.before_request
@login_required
def _signed_in():
    return None


def _page(b: builders.Builder, *, report=None, status: int | None = None, form_errors=None):
    if status is None:
        status = 200
        if "entity" in b.errors:
            status = 404
        elif b.errors:
            status = 422 if "too_many" in b.errors.get("groups", []) else 400
    return render_page_or_block(
        "reports/builder.html",
        "builder",
        status,
        b=b,
        report=report,
        report_name=saved.name_of(report) if report is not None else "",
        shared=saved.shared_roles(report.id) if report is not None else [],
        roles=saved.role_choices(),
        form_errors=form_errors or {},
        dashboards=dashboards.changeable(current_user) if report is not None else [],
        buckets=d.BUCKET_LABELS,
        charts=d.CHART_LABELS,
        save_args=d.to_args,
    )


@bp.get("/")
def report_list():
    """The reports the user owns or that are shared with their roles."""
    compiled = specs.current()

    def entity_label(key: str) -> str:
        spec = compiled.entity(key)
        return spec.label_plural if spec is not None else key

    return render_page_or_block(
        "reports/list.html",
        "content",
        reports=saved.visible_reports(current_user),
        entity_label=entity_label,
    )


@bp.get("/new")
def builder():
    """The builder: menus, filters, the result and its chart (htmx: only the builder)."""
    b = builders.build(current_user, request.args)
    if not request.args.get("entity"):
        b.errors = {}  # a first visit: nothing asked yet, nothing wrong
    return _page(b)


@bp.get("/<id:report_id>")
def open_report(report_id: int):
    """A saved report, run for the person opening it (their scope, their fields)."""
    row = saved.get(current_user, report_id)
    args = request.args if request.args.get("entity") else MultiDict(
        d.to_args(_stored(row))
    )  # fmt: skip
    b = builders.build(current_user, args)
    return _page(b, report=row)


def _stored(row) -> d.ReportDef:
    """The stored definition without checking it for the reader: ``build`` checks it and
    says which fields they cannot use."""
    data = row.definition
    try:
        return d.parse(current_user, data)
    except (ValidationFailed, NotFound):
        return d.ReportDef(
            entity=data.get("entity", ""),
            groups=tuple(
                d.Grouping(g.get("field"), g.get("bucket")) for g in data.get("groups", [])
            ),
            measures=tuple(
                d.Measure(m.get("agg"), m.get("field")) for m in data.get("measures", [])
            )
            or (d.Measure("count"),),
            filters=tuple(
                d.FilterSpec(
                    f["field"],
                    f["op"],
                    tuple(f["value"]) if isinstance(f.get("value"), list) else f.get("value"),
                )
                for f in data.get("filters", [])
            ),
            sort=data.get("sort", "group"),
            direction=data.get("direction", "asc"),
            limit=data.get("limit", d.DEFAULT_LIMIT),
            chart=data.get("chart", "bar"),
        )


def _role_ids(form) -> list[int]:
    out = []
    for raw in form.getlist("role"):
        try:
            out.append(parse_id(raw, what="role", field="roles"))
        except ValidationFailed:
            continue
    return out


def _translations(form) -> dict:
    return {"name": {code: form.get(f"name_{code}", "") for code in ("en", "zh_Hans", "es")
                     if form.get(f"name_{code}", "").strip()}}  # fmt: skip


@bp.post("/save")
def save_report():
    """Save the builder's report (new, or over one's own ``report_id``)."""
    form = request.form
    report_id = None
    if form.get("report_id"):
        report_id = parse_id(form.get("report_id"), what="report", field="report_id")
    data = d.from_args(form)
    try:
        row = saved.save(
            current_user, data, name=form.get("name", ""), translations=_translations(form),
            role_ids=_role_ids(form), report_id=report_id,
        )  # fmt: skip
    except ValidationFailed as exc:
        b = builders.build(current_user, MultiDict(list(form.items(multi=True))))
        row = saved.get(current_user, report_id) if report_id else None
        return _page(b, report=row, status=400, form_errors=exc.errors)
    flash(_("The report is saved."), "success")
    return redirect(url_for("reports.open_report", report_id=row.id))


@bp.post("/<id:report_id>/delete")
def delete_report(report_id: int):
    saved.remove(current_user, report_id)
    flash(_("The report is deleted."), "success")
    return redirect(url_for("reports.report_list"))


@bp.post("/<id:report_id>/dashboard")
def add_to_dashboard(report_id: int):
    """Put the report on one of the person's dashboards (one they may change)."""
    row = saved.get(current_user, report_id)
    board = dashboards.get(current_user, as_id(request.form.get("dashboard")))
    dashboards.add_tile(
        current_user, board, report_tile.KIND, row.entity_key, {"report": str(row.id)}
    )
    flash(_("The report is on the dashboard %(name)s.", name=board.name), "success")
    return redirect(url_for("analytics.dashboard_page", dashboard_id=board.id))


def _result_for_export():
    defn = d.parse(current_user, d.from_args(request.args))
    return defn, run(current_user, defn)


def _filename(defn: d.ReportDef, ext: str) -> str:
    return f"report-{defn.entity}-{utcnow():%Y%m%d-%H%M}.{ext}"


@bp.get("/export.csv")
def export_csv():
    """The result of the builder's report (its query string) as CSV."""
    defn, result = _result_for_export()
    response = Response(export.csv_text(result), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(defn, "csv")}"'
    return response


@bp.get("/export.xlsx")
def export_xlsx():
    """The result of the builder's report (its query string) as XLSX."""
    defn, result = _result_for_export()
    body = export.xlsx_bytes(result, sheet_title(str(result.spec.label_plural)))
    response = Response(
        body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(defn, "xlsx")}"'
    return response


def query_of(args: list[tuple[str, str]]) -> str:
    return urlencode(args)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
