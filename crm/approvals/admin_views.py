"""The configuration screens of approval rules (the "configure" right, checked before any
view runs): the list, new and edit forms, enable / disable and delete. Plain forms; the
entity chosen first (a link reloads the form with that entity's stages and fields)."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.access.policy import CONFIGURE, require
from crm.approvals import rules
from crm.errors import ValidationFailed
from crm.metadata import specs, types
from crm.pipelines.rules import pipelines_for, stage_name
from crm.web.htmx import redirect

bp = Blueprint("approvals_admin", __name__, url_prefix="/admin/approvals")
STEP_ROWS = rules.MAX_STEPS
CONDITION_ROWS = 3


@bp.before_request
@login_required
def _configure_right_required():
    require(current_user, CONFIGURE)


def _step_value(step) -> str:
    if step == rules.MANAGER:
        return "manager"
    if isinstance(step, dict) and step:
        ((kind, number),) = step.items()
        return f"{kind}:{number}"
    return ""


def _parse_step(text: str):
    if text == "manager":
        return rules.MANAGER
    kind, _sep, number = text.partition(":")
    return {kind: number}


def _input_from_form(entity_key: str) -> rules.RuleInput:
    form = request.form
    steps = [
        _parse_step(form.get(f"step_{n}", ""))
        for n in range(1, STEP_ROWS + 1)
        if form.get(f"step_{n}", "")
    ]
    conditions = [
        {"field": form.get(f"cond_field_{n}"), "op": form.get(f"cond_op_{n}"),
         "value": form.get(f"cond_value_{n}", "")}
        for n in range(1, CONDITION_ROWS + 1)
        if form.get(f"cond_field_{n}")
    ]  # fmt: skip
    trigger = {
        "type": form.get("trigger_type", ""),
        "stage": form.get("stage", ""),
        "field": form.get("field", ""),
        "threshold": form.get("threshold", ""),
    }
    return rules.RuleInput(
        entity_key=entity_key, name=form.get("name", ""), trigger=trigger, steps=steps,
        conditions=conditions, key=form.get("key", "").strip(),
        enabled=form.get("enabled") == "y",
    )  # fmt: skip


def _choices(spec):
    """What the form offers for ``spec``: stages, numeric fields, fields and conditions to
    filter by, and approvers."""
    found = pipelines_for(spec) if spec is not None else None
    stages = [
        (s.key, f"{p.name} · {stage_name(s)}")
        for p in (found.pipelines if found is not None else ())
        for s in p.stages
        if not s.archived
    ]
    fields = list(spec.active_fields) if spec is not None else []
    ops: dict[str, str] = {}
    for f in fields:
        for op in types.operators_of(f):
            ops.setdefault(op, types.get(f.type).operator_label(op))
    return {
        "stages": stages,
        "numeric": rules.numeric_fields(spec) if spec is not None else [],
        "fields": fields,
        "ops": sorted(ops.items()),
        "approvers": rules.approver_choices(),
    }


def _form_page(spec, values: dict, rule=None, errors=None, status: int = 200):
    body = render_template(
        "approvals/admin_form.html", spec=spec, rule=rule, values=values, errors=errors or {},
        entities=specs.current().active_entities, step_rows=STEP_ROWS,
        condition_rows=CONDITION_ROWS, **_choices(spec),
    )  # fmt: skip
    return make_response(body, status)


def _values_of(rule) -> dict:
    values = {
        "key": rule.key, "name": rule.name, "enabled": rule.enabled,
        "trigger_type": rule.trigger.get("type", ""), "stage": rule.trigger.get("stage", ""),
        "field": rule.trigger.get("field", ""), "threshold": rule.trigger.get("threshold", ""),
    }  # fmt: skip
    for n, step in enumerate(rule.steps, start=1):
        values[f"step_{n}"] = _step_value(step)
    for n, c in enumerate(rule.conditions, start=1):
        value = c.get("value")
        values[f"cond_field_{n}"], values[f"cond_op_{n}"] = c.get("field"), c.get("op")
        values[f"cond_value_{n}"] = ", ".join(value) if isinstance(value, list) else value or ""
    return values


@bp.get("/")
def rule_list():
    """Every approval rule, with its entity and what it holds."""
    compiled = specs.current()
    return render_template(
        "approvals/admin_list.html",
        items=rules.all_rules(current_user),
        compiled=compiled,
        describe=rules.describe,
    )


@bp.route("/new", methods=["GET", "POST"])
def rule_new():
    """A new rule: choose the entity (``?entity=``), then what it holds and who approves."""
    entity_key = request.values.get("entity", "")
    spec = specs.current().entity(entity_key) if entity_key else None
    if request.method == "GET" or spec is None:
        values = {"enabled": True, "step_1": "manager", "trigger_type": "stage"}
        return _form_page(spec, values)
    try:
        rules.save(current_user, _input_from_form(spec.key))
    except ValidationFailed as exc:
        return _form_page(spec, request.form.to_dict(), errors=exc.errors, status=400)
    flash(_("Approval rule saved."), "success")
    return redirect(url_for("approvals_admin.rule_list"))


@bp.route("/<id:rule_id>/edit", methods=["GET", "POST"])
def rule_edit(rule_id: int):
    """Change a rule (its key and entity stay)."""
    rule = rules.get_rule(current_user, rule_id)
    spec = specs.current().entity(rule.entity_key)
    if request.method == "GET":
        return _form_page(spec, _values_of(rule), rule)
    try:
        rules.save(current_user, _input_from_form(rule.entity_key), rule_id)
    except ValidationFailed as exc:
        return _form_page(spec, request.form.to_dict(), rule, exc.errors, 400)
    flash(_("Approval rule saved."), "success")
    return redirect(url_for("approvals_admin.rule_list"))


@bp.post("/<id:rule_id>/enable")
def rule_enable(rule_id: int):
    """Turn the rule on."""
    rules.set_enabled(current_user, rule_id, True)
    flash(_("The rule is on."), "success")
    return redirect(url_for("approvals_admin.rule_list"))


@bp.post("/<id:rule_id>/disable")
def rule_disable(rule_id: int):
    """Turn the rule off (pending requests stay pending)."""
    rules.set_enabled(current_user, rule_id, False)
    flash(_("The rule is off."), "success")
    return redirect(url_for("approvals_admin.rule_list"))


@bp.post("/<id:rule_id>/delete")
def rule_delete(rule_id: int):
    """Delete the rule (pending requests it made keep waiting)."""
    rules.delete(current_user, rule_id)
    flash(_("Approval rule deleted."), "success")
    return redirect(url_for("approvals_admin.rule_list"))


def register(app: Flask) -> None:
    """Register the configuration screens."""
    app.register_blueprint(bp)
