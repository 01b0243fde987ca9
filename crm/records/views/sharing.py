"""The record page's "Sharing" panel (shares, ownership transfer, recent changes) and the
administrators' "Who can see this and why" panel.

Thin views on the ``records`` blueprint. Both panels load lazily into the record page
(htmx, ``hx-trigger="load"``) and are pages of their own when opened without htmx, so they
work as plain HTML forms too. Every write is a POST with the CSRF token; the services in
``crm.records.sharing`` ask the access policy before writing anything.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import directory, policy
from crm.errors import Conflict, NotFound, ValidationFailed
from crm.i18n import request_locale
from crm.ids import as_id, parse_id
from crm.records import present, sharing
from crm.records import service as records
from crm.records.views import bp, entity_for
from crm.records.who_can_see import who_can_see
from crm.web.htmx import is_htmx, redirect, render_page_or_block

PANEL = "records/_sharing.html"
ACCESS_PANEL = "records/_access_panel.html"


def _seen(row) -> int:
    """The record version the page showed (``seen``), for the ownership form's optimistic
    lock: the lazily loaded panel must not pick up a version the user never saw."""
    return as_id(request.values.get("seen")) or row["version"]


def _panel(
    spec, record_id: int, *, status: int = 200, error: str | None = None,
    errors: dict | None = None, notice: str | None = None, chosen: dict | None = None,
) -> Response:  # fmt: skip
    """The sharing panel (its ``panel`` block for htmx, else the whole page)."""
    row = records.get(current_user, spec, record_id)
    allowed = policy.allowed_on(current_user, spec, row, ("edit", "assign"))
    can_share, can_transfer = "edit" in allowed, "assign" in allowed
    people = directory.user_names() if (can_share or can_transfer) else {}
    labels = sharing.department_labels(request_locale())
    return render_page_or_block(
        PANEL,
        "panel",
        status=status,
        spec=spec,
        row=row,
        name=present.record_name(spec, row),
        seen=_seen(row),
        shares=sharing.shares_of(spec, record_id, labels),
        history=sharing.access_history(spec, record_id),
        owner=directory.user_names([row["owner_id"]]).get(row["owner_id"])
        if row["owner_id"]
        else None,
        can_share=can_share,
        can_transfer=can_transfer,
        can_explain=policy.can(current_user, policy.MANAGE_ACCESS),
        people=people,
        departments=labels if can_share else {},
        access_labels={k: str(v) for k, v in sharing.ACCESS_LABELS.items()},
        error=error,
        errors=errors or {},
        notice=notice,
        chosen=chosen or {},
    )


@bp.get("/<key>/<id:record_id>/sharing")
def sharing_panel(key: str, record_id: int) -> Response:
    """Who the record is shared with; the forms to share, stop sharing and transfer
    ownership for those who may."""
    return _panel(entity_for(key), record_id)


def _after_write(spec, record_id: int, message: str) -> Response:
    """The panel again with ``message``; or, when the user cannot see the record any more
    (they gave it away or removed their own share), the list with ``message``."""
    try:
        records.get(current_user, spec, record_id)
    except NotFound:
        flash(_no_longer_visible(spec, message), "success")
        return redirect(url_for("records.record_list", key=spec.key))
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("records.sharing_panel", key=spec.key, record_id=record_id))
    return _panel(spec, record_id, notice=message)


def _no_longer_visible(spec, message: str) -> str:
    return _(
        "%(message)s You can no longer see this %(entity)s.",
        message=message,
        entity=spec.label_singular,
    )


def _target(raw: str) -> dict[str, Any]:
    """``user:<id>`` or ``department:<id>`` (the share form's one choice) as the service's
    keyword arguments; anything else names no target (the service says so)."""
    kind, _, ident = (raw or "").partition(":")
    if kind == "user":
        return {"user_id": ident or "0"}
    if kind == "department":
        return {"department_id": ident or "0"}
    return {}


@bp.post("/<key>/<id:record_id>/sharing")
def share_add(key: str, record_id: int) -> Response:
    """Share the record with the chosen user or department (``target``), to ``access``."""
    spec = entity_for(key)
    chosen = {"target": request.form.get("target", ""), "access": request.form.get("access", "")}
    try:
        change = sharing.share(
            current_user,
            spec,
            record_id,
            access=chosen["access"],
            **_target(chosen["target"]),
        )
    except ValidationFailed as exc:
        return _panel(
            spec, record_id, status=400, error=exc.message, errors=exc.errors, chosen=chosen
        )
    access = sharing.access_words(change.after)
    if not change.changed:
        message = _("Already shared with %(name)s (%(access)s).", name=change.name, access=access)
    elif change.before is None:
        message = _("Shared with %(name)s (%(access)s).", name=change.name, access=access)
    else:
        message = _("%(name)s now has %(access)s access.", name=change.name, access=access)
    return _after_write(spec, record_id, message)


@bp.post("/<key>/<id:record_id>/sharing/<id:share_id>/remove")
def share_remove(key: str, record_id: int, share_id: int) -> Response:
    """Stop sharing the record with one user or department."""
    spec = entity_for(key)
    name = sharing.unshare(current_user, spec, share_id, record_id=record_id)
    return _after_write(spec, record_id, _("No longer shared with %(name)s.", name=name))


@bp.post("/<key>/<id:record_id>/owner")
def owner_transfer(key: str, record_id: int) -> Response:
    """Give the record to another active user (``owner_id``); ``version`` is the version
    the user saw, so a record changed since is not given away unseen."""
    spec = entity_for(key)
    try:
        after = sharing.transfer(
            current_user,
            spec,
            record_id,
            request.form.get("owner_id"),
            expected_version=request.form.get("version"),
        )
    except ValidationFailed as exc:
        return _panel(spec, record_id, status=400, error=exc.message, errors=exc.errors)
    except Conflict as exc:
        return _panel(spec, record_id, status=409, error=exc.message)
    owner_id = parse_id(request.form["owner_id"], what="user")  # the service accepted it
    name = directory.user_names([owner_id]).get(owner_id) or _("them")
    if after == as_id(request.form.get("version")):
        return _after_write(spec, record_id, _("%(name)s owns it already.", name=name))
    message = _("Owner changed to %(name)s.", name=name)
    try:
        records.get(current_user, spec, record_id)
    except NotFound:
        flash(_no_longer_visible(spec, message), "success")
        return redirect(url_for("records.record_list", key=key))
    flash(message, "success")
    # The page's head (owner, version) and timeline changed: load the page again.
    return redirect(url_for("records.record_page", key=key, record_id=record_id))


@bp.get("/<key>/<id:record_id>/access")
def access_panel(key: str, record_id: int) -> Response:
    """Administrators only: every active user who can see, and who can edit, this record,
    with the rule that grants it."""
    spec = entity_for(key)
    explanation = who_can_see(current_user, spec, record_id)
    row = records.get(current_user, spec, record_id)
    return render_page_or_block(
        ACCESS_PANEL,
        "panel",
        spec=spec,
        row=row,
        name=present.record_name(spec, row),
        explanation=explanation,
    )
