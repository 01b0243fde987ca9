"""Designer: duplicate rules (the list by entity, the editor, on/off, delete, the default
rules). Thin views: ``forms.dedupe_rules`` reads input, ``crm.dedupe.admin`` checks and
writes, ``crm.dedupe.words`` says rules in words."""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from crm.dedupe import admin
from crm.dedupe import words as dwords
from crm.dedupe.models import ACTIONS
from crm.dedupe.rules import METHODS
from crm.designer import bp, flash_errors
from crm.errors import NotFound, ValidationFailed
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.web.htmx import redirect, render_page_or_block
from forms.dedupe_rules import Editor, from_post, from_row, new_editor

_DEFAULT_WORDS = {
    admin.PERSON: _l("Add the default person rules"),
    admin.COMPANY: _l("Add the default company rules"),
}


def _entities() -> list[EntitySpec]:
    return sorted(specs.current().active_entities, key=lambda e: e.label_plural.lower())


def _entity(key) -> EntitySpec:
    entity = specs.current().entity(key) if isinstance(key, str) and key else None
    if entity is None or entity.archived:
        raise NotFound(_("There is no such kind of record."))
    return entity


def _fields(entity: EntitySpec | None) -> list:
    return [f for f in entity.active_fields if admin.comparable(f)] if entity else []


def _context(ed: Editor, row=None) -> dict:
    entity = ed.entity
    other = specs.current().entity(ed.compare_entity_key) if ed.compare_entity_key else None
    return {
        "ed": ed,
        "entity": entity,
        "rule": row,
        "fields": _fields(entity),
        "field_keys": {f.key for f in _fields(entity)},
        "other": other,
        "other_fields": _fields(other),
        "others": [e for e in _entities() if e.key != entity.key],
        "methods": [(m, dwords.METHOD_WORDS[m]) for m in METHODS],
        "actions": [(a, dwords.ACTION_WORDS[a]) for a in ACTIONS],
        "max_conditions": admin.MAX_CONDITIONS,
    }


@bp.get("/duplicates/")
def dedupe_list():
    """Every entity with its duplicate rules in words, and the default rules it may add."""
    by_entity: dict[str, list] = {}
    for row in admin.all_rules():
        by_entity.setdefault(row.entity_key, []).append(dwords.describe(row))
    groups = []
    for entity in _entities():
        groups.append(
            {
                "entity": entity,
                "rules": by_entity.get(entity.key, []),
                "defaults": [(k, _DEFAULT_WORDS[k]) for k in admin.defaults(entity)],
            }
        )
    return render_page_or_block("designer/dedupe_rules.html", "groups", groups=groups)


def _save(ed: Editor, row):
    try:
        if row is None:
            saved = admin.create_rule(ed.entity.key, ed.to_data(), actor_id=current_user.id)
        else:
            saved = admin.update_rule(row.id, ed.to_data(), actor_id=current_user.id)
    except ValidationFailed as exc:
        ed.place(exc.errors)
        if not ed.failed:
            ed.errors["_"] = [exc.message]
        return render_template("designer/dedupe_form.html", **_context(ed, row)), 400
    flash(_("Saved the duplicate rule “%(name)s”.", name=dwords.rule_name(saved)), "success")
    return redirect(url_for("designer.dedupe_list") + f"#dedupe-{saved.entity_key}")


@bp.route("/duplicates/new", methods=["GET", "POST"])
def dedupe_new():
    """A new rule of the entity ``entity_key`` (without one: choose it first)."""
    key = request.values.get("entity_key")
    if not key:
        return render_template("designer/dedupe_entity.html", entities=_entities())
    entity = _entity(key)
    if request.method == "GET":
        return render_template("designer/dedupe_form.html", **_context(new_editor(entity)))
    ed = from_post(entity, request.form)
    if ed.editing:
        return render_template("designer/dedupe_form.html", **_context(ed))
    return _save(ed, None)


@bp.route("/duplicates/<id:rule_id>/edit", methods=["GET", "POST"])
def dedupe_edit(rule_id: int):
    row = admin.get_rule(rule_id)
    entity = _entity(row.entity_key)
    if request.method == "GET":
        ed = from_row(entity, row)
        # a stored rule that no longer checks (a field archived since): say so at once
        _clean, errors, _other = admin.problems(admin.stored(row), entity, new=False)
        ed.place(errors)
        return render_template("designer/dedupe_form.html", **_context(ed, row))
    ed = from_post(entity, request.form)
    ed.key = row.key
    if ed.editing:
        return render_template("designer/dedupe_form.html", **_context(ed, row))
    return _save(ed, row)


@bp.post("/duplicates/<id:rule_id>/enabled")
def dedupe_toggle(rule_id: int):
    row = admin.get_rule(rule_id)
    row = admin.set_enabled(row.id, not row.enabled, actor_id=current_user.id)
    flash(_("The rule is on.") if row.enabled else _("The rule is off."), "success")
    return redirect(url_for("designer.dedupe_list") + f"#dedupe-{row.entity_key}")


@bp.route("/duplicates/<id:rule_id>/delete", methods=["GET", "POST"])
def dedupe_delete(rule_id: int):
    """GET: the confirmation; POST: delete the rule (its keys go in the background)."""
    row = admin.get_rule(rule_id)
    name = dwords.rule_name(row)
    if request.method == "GET":
        return render_template("designer/dedupe_delete.html", rule=row, name=name)
    entity_key = row.entity_key
    admin.delete_rule(row.id, actor_id=current_user.id)
    flash(_("Deleted the duplicate rule “%(name)s”.", name=name), "success")
    return redirect(url_for("designer.dedupe_list") + f"#dedupe-{entity_key}")


@bp.post("/duplicates/defaults")
def dedupe_defaults():
    """Add the default person or company rules that suit an entity."""
    entity = _entity(request.form.get("entity_key"))
    try:
        added = admin.add_defaults(
            entity.key, request.form.get("kind", ""), actor_id=current_user.id
        )
    except ValidationFailed as exc:
        flash_errors(exc)
        return redirect(url_for("designer.dedupe_list") + f"#dedupe-{entity.key}")
    flash(
        ngettext("Added %(num)d duplicate rule.", "Added %(num)d duplicate rules.", added),
        "success",
    )
    return redirect(url_for("designer.dedupe_list") + f"#dedupe-{entity.key}")
