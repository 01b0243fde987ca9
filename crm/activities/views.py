"""Pages of tasks and activities: the record page's "Next steps" block (add a task, mark
one done), logging an activity, and "My tasks". Thin views: parse the form, call
``crm.activities.service`` (which asks the record's access policy), render or redirect."""

from __future__ import annotations

from datetime import date, datetime, time

from flask import Blueprint, Flask, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.access import policy
from crm.activities import service as activities
from crm.errors import ValidationFailed
from crm.i18n import select_timezone
from crm.ids import optional_id
from crm.metadata import specs
from crm.records import service as records
from crm.records.views import entity_for
from crm.records.views.timeline import timeline_block
from crm.timeutil import to_utc, utcnow
from crm.web.htmx import is_htmx, redirect, vary

bp = Blueprint("activities", __name__)


@bp.before_request
@login_required
def _signed_in():
    return None


def _date(value: str | None, key: str, *, required: bool) -> date | None:
    text = (value or "").strip()
    if not text and not required:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = _("Enter a date such as 2026-12-31.")
        raise ValidationFailed(message, errors={key: [message]}) from None


def _time(value: str | None, key: str) -> time | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return time.fromisoformat(text).replace(second=0, microsecond=0, tzinfo=None)
    except ValueError:
        message = _("Enter a time such as 14:30.")
        raise ValidationFailed(message, errors={key: [message]}) from None


def _minutes(value: str | None) -> int | None:
    """The reminder choice: empty for none, else a whole number of minutes (the service
    checks it is one of the choices offered)."""
    text = (value or "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        message = _("Choose when to be reminded.")
        raise ValidationFailed(message, errors={"remind_minutes": [message]})
    return int(text)


def _message(exc: ValidationFailed) -> str:
    return " ".join(m for ms in exc.errors.values() for m in ms) or exc.message


def _next_steps_block(spec, record_id: int, error: str | None = None, status: int = 200):
    row = records.get(current_user, spec, record_id)
    can_edit = bool(policy.allowed_on(current_user, spec, row, ("edit",)))
    steps = activities.next_steps(
        current_user, spec, record_id, can_edit=can_edit, zone=select_timezone()
    )
    body = render_template(
        "activities/_next_steps.html", spec=spec, row=row, steps=steps, can_edit=can_edit,
        task_error=error,
    )  # fmt: skip
    return vary(make_response(body, status))


@bp.post("/r/<key>/<id:record_id>/tasks")
def task_add(key: str, record_id: int):
    spec = entity_for(key)
    form = request.form
    error = None
    try:
        activities.add_task(
            current_user, spec, record_id,
            subject=form.get("subject", ""),
            due_date=_date(form.get("due_date"), "due_date", required=True),
            due_time=_time(form.get("due_time"), "due_time"),
            priority=form.get("priority") or "normal",
            assignee_id=optional_id(form.get("assignee_id"), what="user", field="assignee_id"),
            remind_minutes=_minutes(form.get("remind_minutes")),
        )  # fmt: skip
    except ValidationFailed as exc:
        error = _message(exc)
    if not is_htmx():
        flash(error, "error") if error else flash(_("Task added."), "success")
        return redirect(url_for("records.record_page", key=key, record_id=record_id))
    return _next_steps_block(spec, record_id, error, 400 if error else 200)


@bp.post("/r/<key>/<id:record_id>/activities")
def activity_log(key: str, record_id: int):
    spec = entity_for(key)
    form = request.form
    try:
        day = _date(form.get("happened_on"), "happened_on", required=False)
        at = _time(form.get("happened_time"), "happened_time")
        happened = None
        if day is not None:
            local = datetime.combine(day, at or time(12, 0))
            happened = to_utc(local, select_timezone(), strict=False)
            if at is None:  # a day without a time: midday, or now if today's midday is ahead
                happened = min(happened, utcnow())
        activities.log_activity(
            current_user, spec, record_id,
            kind=form.get("kind", ""), subject=form.get("subject", ""),
            outcome=form.get("outcome", ""), notes=form.get("notes", ""),
            happened_at=happened,
        )  # fmt: skip
    except ValidationFailed as exc:
        flash(_message(exc), "error")
    else:
        flash(_("Activity logged."), "success")
    return redirect(url_for("records.record_page", key=key, record_id=record_id))


def _after_task_change(task, message: str):
    """htmx: nothing (the row goes away), and on the record page its timeline swapped out
    of band (a task done is on it); a plain form: back where the user came from."""
    if is_htmx():
        body = ""
        if request.form.get("back") != "mine":
            spec = specs.current().entity(task.entity_key)
            if spec is not None:
                body = timeline_block(spec, task.record_id, oob=True)
        return vary(make_response(body, 200))
    flash(message, "success")
    if request.form.get("back") == "mine":
        return redirect(url_for("activities.my_tasks"))
    return redirect(url_for("records.record_page", key=task.entity_key, record_id=task.record_id))


@bp.post("/tasks/<id:task_id>/edit")
def task_edit(task_id: int):
    """Change a task from the record page's "Next steps": htmx gets the block back (with
    the problem when the change is refused); a plain form goes back to the record."""
    form = request.form
    error = None
    try:
        task = activities.update_task(
            current_user, task_id,
            subject=form.get("subject", ""),
            due_date=_date(form.get("due_date"), "due_date", required=True),
            due_time=_time(form.get("due_time"), "due_time"),
            priority=form.get("priority") or "normal",
            assignee_id=optional_id(form.get("assignee_id"), what="user", field="assignee_id"),
            remind_minutes=_minutes(form.get("remind_minutes")),
        )  # fmt: skip
    except ValidationFailed as exc:
        error = _message(exc)
        task = activities.task_of(current_user, task_id)
    spec = entity_for(task.entity_key)
    if not is_htmx():
        flash(error, "error") if error else flash(_("Task changed."), "success")
        return redirect(url_for("records.record_page", key=spec.key, record_id=task.record_id))
    return _next_steps_block(spec, task.record_id, error, 400 if error else 200)


@bp.post("/tasks/<id:task_id>/done")
def task_done(task_id: int):
    task = activities.set_done(current_user, task_id, True)
    return _after_task_change(task, _("Task done."))


@bp.post("/tasks/<id:task_id>/reopen")
def task_reopen(task_id: int):
    task = activities.set_done(current_user, task_id, False)
    return _after_task_change(task, _("Task reopened."))


@bp.post("/tasks/<id:task_id>/delete")
def task_delete(task_id: int):
    task = activities.delete_task(current_user, task_id)
    return _after_task_change(task, _("Task deleted."))


@bp.get("/tasks/")
def my_tasks():
    mine = activities.my_tasks(current_user, select_timezone())
    return render_template("activities/my_tasks.html", mine=mine)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
