"""Designer: importing a package (issue 15): upload -> plan page -> apply (a job).

The upload is loaded (every problem listed with its JSON pointer, 400, nothing written),
staged on the server for its uploader (``crm.packages.staging``) and planned. The plan
page posts back the staging token, the package's content hash and the plan's fingerprint
with the conflict choices and the destructive consent; apply loads and plans the staged
upload again and refuses at once when anything differs, a conflict has no choice or a
destructive step no consent (the plan page says so; nothing is queued). Otherwise it
queues a ``package.apply`` job and sends the browser to the job's page, which shows its
progress and outcome. Both routes sit behind the blueprint's configure gate; CSRF is
checked by the app.
"""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.designer import bp
from crm.designer.views_entities import nav_entities
from crm.metadata import specs
from crm.packages import provenance, staging
from crm.packages.apply import plan_package, refusals
from crm.packages.background import queue_apply
from crm.packages.load import Package, load
from crm.packages.plan import Conflict, Plan
from crm.packages.problems import PackageInvalid, Problem
from crm.packages.seed import seeded_keys
from crm.packages.words import Words
from crm.web.htmx import redirect

CHOICE = "choice:"  # the radio group of a conflict: "choice:" + its JSON pointer


def _problems_page(problems: list[Problem], status: int = 400):
    html = render_template(
        "designer/package_plan.html",
        problems=problems,
        plan=None,
        nav_entities=nav_entities(),
    )
    return html, status


def _plan_page(
    package: Package,
    p: Plan,
    token: str,
    *,
    errors: dict[str, list[str]] | None = None,
    notice: str = "",
    choices: dict[str, str] | None = None,
    allow_destructive: bool = False,
    status: int = 200,
):
    destructive = [c for c in [*p.changes, *p.conflicts] if c.destructive]
    html = render_template(
        "designer/package_plan.html",
        problems=None,
        package=package,
        plan=p,
        groups=_groups(p),
        token=token,
        fingerprint=staging.fingerprint(p),
        destructive=destructive,
        errors=errors or {},
        notice=notice,
        choices=choices or {},
        allow_destructive=allow_destructive,
        words=Words(p),
        recorded=p.empty and provenance.unchanged(package.data),
        is_conflict=lambda step: isinstance(step, Conflict),
        CHOICE=CHOICE,
        nav_entities=nav_entities(),
    )
    return html, status


def _groups(p: Plan) -> list[tuple[str, str, list]]:
    """(entity key, heading, steps) per entity, entities first, then the other items."""
    out = []
    for ekey, steps in sorted(p.by_entity().items(), key=lambda kv: (kv[0] == "", kv[0])):
        if not ekey:
            out.append(("", _("Roles and other items"), steps))
            continue
        own = (p.theirs.get("entities") or {}).get(ekey) or (p.mine.get("entities") or {}).get(ekey)
        label = (own or {}).get("label_plural") or (own or {}).get("label_singular") or ekey
        out.append((ekey, label, steps))
    return out


def _existing():
    return specs.raw().entities


@bp.post("/packages/plan")
def package_plan():
    upload = request.files.get("package")
    if upload is None or not upload.filename:
        return _problems_page([Problem("", _("Choose a package file to upload."))])
    data = upload.read()
    try:
        package = load(data, filename=upload.filename, existing=_existing(), seeded=seeded_keys())
        token = staging.stage(data, upload.filename, current_user.id)
        p = plan_package(package.data)
    except PackageInvalid as exc:
        return _problems_page(exc.problems)
    return _plan_page(package, p, token)


@bp.post("/packages/apply")
def package_apply():
    form = request.form
    token = form.get("token", "")
    staged = staging.read(token, current_user.id)
    if staged is None:
        flash(
            _(
                "That upload is no longer kept (it was applied, or an hour has passed). "
                "Upload the package again."
            ),
            "error",
        )
        return redirect(url_for("designer.packages"))
    data, filename = staged
    try:
        package = load(data, filename=filename, existing=_existing(), seeded=seeded_keys())
    except PackageInvalid as exc:  # the installation changed so that it no longer fits
        return _problems_page(exc.problems)
    if package.content_hash != form.get("content_hash", ""):
        flash(_("The package does not match the one planned. Upload it again."), "error")
        return redirect(url_for("designer.packages"))
    p = plan_package(package.data)
    choices = {
        c.path: form[CHOICE + c.path]
        for c in p.conflicts
        if form.get(CHOICE + c.path) in ("mine", "theirs")
    }
    allow = form.get("allow_destructive") == "1"
    if staging.fingerprint(p) != form.get("plan", ""):
        notice = _("The configuration changed since the plan was made: read the new plan.")
        return _plan_page(package, p, token, notice=notice, status=409)
    errors = refusals(p, choices, allow)
    if errors:
        return _plan_page(
            package,
            p,
            token,
            errors=errors,
            notice=_("Nothing was changed."),
            choices=choices,
            allow_destructive=allow,
            status=400,
        )
    job_id = queue_apply(
        current_user.id,
        token,
        package,
        staging.fingerprint(p),
        choices=choices,
        allow_destructive=allow,
    )
    return redirect(url_for("jobs.job_page", job_id=job_id))
