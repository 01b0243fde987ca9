"""Applying an uploaded package as a background job (``package.apply``).

The Apply button checks what can be refused at once in the request (``queue_apply``'s
caller: unresolved conflicts, destructive steps without consent) and then queues the job
in a unit of work of its own. The job, on a worker, reads the staged upload again (it is
the uploading user's), checks that the package and the plan are still the ones the user
read, applies it with progress per step, and removes the upload in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import url_for
from flask_babel import gettext as _

from crm.errors import Conflict, ValidationFailed
from crm.jobs import handler
from crm.jobs.outbox import enqueue
from crm.jobs.runner import JobContext
from crm.metadata import specs
from crm.packages import seed, staging
from crm.packages.apply import apply, plan_package
from crm.packages.load import Package, load
from crm.packages.problems import PackageInvalid
from crm.uow import unit_of_work

KIND = "package.apply"


def queue_apply(
    user_id: int,
    token: str,
    package: Package,
    fingerprint: str,
    *,
    choices: Mapping[str, str],
    allow_destructive: bool,
) -> int:
    """Queue the apply of the staged upload ``token`` (``package``, planned with
    ``fingerprint``) for ``user_id``; returns the job's id. The job runs after commit."""
    with unit_of_work():
        job = enqueue(
            KIND,
            {
                "token": token,
                "content_hash": package.content_hash,
                "plan": fingerprint,
                "choices": dict(choices),
                "allow_destructive": bool(allow_destructive),
                "name": package.name,
                "version": package.version,
            },
            user_id=user_id,
        )
        job_id = job.id
    return job_id


def describe(payload: Mapping[str, Any], result: Any) -> dict[str, Any]:
    """The job page's wording for a package apply."""
    name, version = payload.get("name", ""), payload.get("version", "")
    words: dict[str, Any] = {
        "title": _("Applying the package “%(name)s” %(version)s", name=name, version=version),
        "link": (_("Open the configuration"), url_for("designer.home")),
    }
    if isinstance(result, dict) and not result.get("changed"):
        words["done"] = _("Nothing needed to change: the configuration already is the package's.")
    else:
        words["done"] = _("Applied the package “%(name)s” %(version)s.", name=name, version=version)
    return words


@handler(KIND, describe=describe)
def run_apply(ctx: JobContext) -> dict[str, Any]:
    """Apply the job's staged package as its creator. Raises ``ValidationFailed`` or
    ``Conflict`` (nothing changed) when the upload is gone, the package or the plan is no
    longer the one the user read, or the apply refuses."""
    payload = ctx.payload
    token = str(payload.get("token", ""))
    ctx.progress(0, 1, _("Reading the package"))
    staged = staging.read(token, ctx.user_id)
    if staged is None:
        raise ValidationFailed(
            _(
                "That upload is no longer kept (it was applied, or an hour has passed). "
                "Upload the package again."
            )
        )
    data, filename = staged
    try:
        package = load(
            data, filename=filename, existing=specs.raw().entities, seeded=seed.seeded_keys()
        )
    except PackageInvalid as exc:
        errors: dict[str, list[str]] = {}
        for problem in exc.problems:
            errors.setdefault(problem.pointer or "/", []).append(problem.message)
        raise ValidationFailed(_("Nothing was changed."), errors=errors) from exc
    if package.content_hash != payload.get("content_hash"):
        raise ValidationFailed(_("The package does not match the one planned. Upload it again."))
    p = plan_package(package.data)
    if staging.fingerprint(p) != payload.get("plan"):
        raise Conflict(_("The configuration changed since the plan was made: plan again."))
    result = apply(
        p,
        choices=dict(payload.get("choices") or {}),
        allow_destructive=bool(payload.get("allow_destructive")),
        actor_id=ctx.user_id,
        progress=ctx.progress,
    )
    staging.discard(token)
    return {"changed": result.changed, "steps": result.steps}
