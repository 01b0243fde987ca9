"""Designer: "Packages", the company's configuration as a package file (issue 15).

Export is a download: the page's form names the package (name, version, description) and
the export route answers with ``<name>-<version>.json`` as an attachment. It reads only
(a GET, nothing changes); the blueprint's gate demands the configure right first.
"""

from __future__ import annotations

from flask import Response, render_template, request

from crm.designer import bp
from crm.designer.views_entities import nav_entities
from crm.errors import ValidationFailed
from crm.packages import export

DEFAULT_NAME, DEFAULT_VERSION = "configuration", "1.0.0"


def _page(values: dict, errors: dict | None = None, status: int = 200):
    html = render_template(
        "designer/packages.html", values=values, errors=errors or {}, nav_entities=nav_entities()
    )
    return html, status


@bp.get("/packages")
def packages():
    return _page({"name": DEFAULT_NAME, "version": DEFAULT_VERSION, "description": ""})


@bp.get("/packages/export")
def package_export():
    values = {
        "name": request.args.get("name", DEFAULT_NAME).strip(),
        "version": request.args.get("version", DEFAULT_VERSION).strip(),
        "description": request.args.get("description", "").strip(),
    }
    try:
        package = export.export_package(
            name=values["name"],
            version=values["version"],
            description=values["description"] or None,
        )
    except ValidationFailed as exc:
        return _page(values, exc.errors, 400)
    response = Response(export.dumps(package), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename(package)}"'
    response.headers["Cache-Control"] = "no-store"
    return response
