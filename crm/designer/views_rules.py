"""Designer: automation rules (the list by entity, the editor, enable/disable, delete,
the run log). Thin views: ``forms.rules`` reads input, ``crm.automation.rules`` checks
and writes, ``crm.automation.rule_words`` says rules in words."""

from __future__ import annotations

from flask import abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from crm.access import directory
from crm.activities.models import PRIORITIES
from crm.automation import rule_words as words
from crm.automation import rules
from crm.automation.rule_parts import ACTIONS, HOW, TRIGGERS
from crm.designer import bp
from crm.errors import NotFound, ValidationFailed
from crm.metadata import list_views as lv
from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec
from crm.pools.spec import pools_of
from crm.records import present
from crm.web.htmx import is_htmx, redirect, render_page_or_block, vary
from forms.rules import (
    Editor,
    from_post,
    from_rule,
    new_action,
    trigger_from,
)

MAX_PAGE = 100_000


def _entities() -> list[EntitySpec]:
    return sorted(specs.current().active_entities, key=lambda e: e.label_plural.lower())


def _entity(key) -> EntitySpec:
    entity = specs.current().entity(key) if isinstance(key, str) else None
    if entity is None:
        raise NotFound(_("There is no such kind of record."))
    return entity


def _stages(entity: EntitySpec) -> list[tuple[str, str]]:
    pipes = specs.current().pipelines.get(entity.key)
    if pipes is None:
        return []
    return [(s.key, words.stage_name(entity, s.key)) for p in pipes.active for s in p.active_stages]


def _editor_context(ed: Editor, row=None) -> dict:
    entity = ed.entity
    return {
        "ed": ed,
        "entity": entity,
        "rule": row,
        "fields": lv.available_fields(entity),
        "record_fields": entity.active_fields,
        "date_fields": [f for f in entity.active_fields if words.is_temporal(f)],
        "stages": _stages(entity),
        "triggers": [(t, words.TRIGGER_WORDS[t]) for t in TRIGGERS],
        "action_words": words.ACTION_WORDS,
        # "return to the pool" only for an entity that has a pool
        "action_kinds": [
            (a, words.ACTION_WORDS[a]) for a in ACTIONS if a != "pool" or pools_of(entity.key)
        ],
        "entity_pools": pools_of(entity.key),
        "how_words": [(h, words.HOW_WORDS[h]) for h in HOW],
        "priorities": [(p, words.PRIORITY_WORDS.get(p, p)) for p in PRIORITIES],
        "dir": words.directory_now(),
        "people": directory.user_names(),
        "periods": [(k, lv.RELATIVE_LABELS[k]) for k in types.RELATIVE_RANGES],
    }


@bp.get("/automation/")
def rules_list():
    """Every rule by entity, with its trigger and actions in words and its last run."""
    rows = rules.all_rules()
    last = rules.last_runs([r.id for r in rows])
    d = words.directory_now()
    groups: dict[str, dict] = {}
    compiled = specs.current()
    for r in rows:
        entity = compiled.entity(r.entity_key, include_archived=True)
        group = groups.setdefault(
            r.entity_key, {"entity": entity, "key": r.entity_key, "rules": []}
        )
        group["rules"].append(
            {
                "row": r,
                "name": words.rule_name(r),
                "trigger": words.describe_trigger(entity, r.trigger or {}) if entity else "",
                "actions": [words.describe_action(entity, a, d) for a in r.actions or []]
                if entity
                else [],
                "last": last.get(r.id),
            }
        )
    return render_page_or_block(
        "designer/rules.html",
        "rules",
        groups=list(groups.values()),
        status_words=words.STATUS_WORDS,
    )


def _save(ed: Editor, row):
    try:
        if row is None:
            saved = rules.create_rule(ed.to_data(), actor_id=current_user.id)
        else:
            saved = rules.update_rule(row.id, ed.to_data(), actor_id=current_user.id)
    except ValidationFailed as exc:
        ed.place(exc.errors)
        if not ed.failed:
            ed.errors["_"] = [exc.message]
        return render_template("designer/rule_form.html", **_editor_context(ed, row)), 400
    flash(_("Saved the rule “%(name)s”.", name=words.rule_name(saved)), "success")
    return redirect(url_for("designer.rules_list"))


@bp.route("/automation/rules/new", methods=["GET", "POST"])
def rule_new():
    """A new rule: first its entity (a plain GET form), then the editor."""
    key = request.values.get("entity_key")
    if not key:
        return render_template("designer/rule_entity.html", entities=_entities())
    entity = _entity(key)
    if request.method == "GET":
        ed = Editor(entity=entity, actions=[new_action({}, "notify")])
        return render_template("designer/rule_form.html", **_editor_context(ed))
    ed = from_post(entity, request.form)
    if ed.editing:
        return render_template("designer/rule_form.html", **_editor_context(ed))
    return _save(ed, None)


@bp.route("/automation/rules/<id:rule_id>/edit", methods=["GET", "POST"])
def rule_edit(rule_id: int):
    row = rules.get_rule(rule_id)
    entity = _entity(row.entity_key)
    if request.method == "GET":
        return render_template(
            "designer/rule_form.html", **_editor_context(from_rule(entity, row), row)
        )
    ed = from_post(entity, request.form)
    ed.key = row.key
    if ed.editing:
        return render_template("designer/rule_form.html", **_editor_context(ed, row))
    return _save(ed, row)


def _fragment(block: str, ed: Editor, **extra):
    if not is_htmx():
        return redirect(url_for("designer.rule_new", entity_key=ed.entity.key))
    body = render_block("designer/rule_form.html", block, **_editor_context(ed), **extra)
    return vary(make_response(body))


@bp.get("/automation/rules/trigger")
def rule_trigger():
    """htmx: the inputs of the chosen trigger type."""
    entity = _entity(request.args.get("entity_key"))
    return _fragment("trigger_inputs", Editor(entity=entity, trigger=trigger_from(request.args)))


@bp.get("/automation/rules/action-row")
def rule_action_row():
    """htmx: a new action row of the chosen type, after the rows already there."""
    entity = _entity(request.args.get("entity_key"))
    kind = request.args.get("add_action", "")
    if kind not in ACTIONS:
        abort(400)
    return _fragment("action_row", Editor(entity=entity), a=new_action(request.args, kind))


@bp.post("/automation/rules/<id:rule_id>/enabled")
def rule_toggle(rule_id: int):
    row = rules.get_rule(rule_id)
    rules.set_enabled(row.id, not row.enabled, actor_id=current_user.id)
    if not is_htmx():
        message = _("The rule is on.") if row.enabled else _("The rule is off.")
        flash(message, "success")
    return redirect(url_for("designer.rules_list"))


@bp.post("/automation/rules/<id:rule_id>/move")
def rule_move(rule_id: int):
    """Move a rule up or down among its entity's rules (they run in this order)."""
    rules.move(rule_id, request.form.get("direction", ""), actor_id=current_user.id)
    return redirect(url_for("designer.rules_list"))


@bp.route("/automation/rules/<id:rule_id>/delete", methods=["GET", "POST"])
def rule_delete(rule_id: int):
    """GET: the confirmation; POST: delete the rule and its run log."""
    row = rules.get_rule(rule_id)
    if request.method == "GET":
        return render_template("designer/rule_delete.html", rule=row, name=words.rule_name(row))
    name = words.rule_name(row)
    rules.delete_rule(row.id, actor_id=current_user.id)
    flash(_("Deleted the rule “%(name)s”.", name=name), "success")
    return redirect(url_for("designer.rules_list"))


@bp.get("/automation/rules/<id:rule_id>/runs")
def rule_runs(rule_id: int):
    """The run log, newest first, paged."""
    row = rules.get_rule(rule_id)
    page = request.args.get("page", "1")
    if not page.isascii() or not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
        abort(400)
    runs, more = rules.runs_page(row.id, int(page))
    entity = specs.current().entity(row.entity_key, include_archived=True)
    # the records' names as the reader may read them (another's record stays "#12")
    ids = {r.record_id for r in runs if r.record_id}
    names = present.names_of(current_user, entity, ids) if entity and ids else {}
    return render_page_or_block(
        "designer/rule_runs.html",
        "runs",
        names=names,
        rule=row,
        name=words.rule_name(row),
        entity=entity,
        runs=runs,
        page=int(page),
        more=more,
        status_words=words.STATUS_WORDS,
    )
