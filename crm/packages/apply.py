"""Applying a planned package: all of it, atomically, or nothing.

``apply(plan, choices=..., allow_destructive=..., actor_id=...)`` runs in ONE unit of work:
one schema change (``crm.schema.service.change``) for entities and fields, then each
changed pipeline through ``crm.pipelines.service``, each changed layout through
``crm.metadata.layouts``, each changed shared list view through
``crm.metadata.list_views``, each changed role through ``crm.access.roles`` (as the
applying user: the access layer's no-escalation rules hold), then the provenance rows.
Those writers open their own units, which inside this one are savepoints of the same
transaction: a failure at any step rolls back metadata rows, tables and columns,
pipelines, layouts, views, roles, provenance and the version.

Roles and shared views that a package no longer names are left in place (a package never
deletes them: people hold roles and use views); the plan does not list them.

Refused before any write: a conflict without a choice, a destructive step without
``allow_destructive``, an installation that changed since the plan was made. Applying a
package whose plan is empty changes nothing (no version bump).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.access import levels
from crm.access import roles as role_service
from crm.access.models import Role, User
from crm.access.policy import ACTIONS
from crm.errors import Conflict as ChangedMeanwhile
from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from crm.metadata import layouts, list_views, types
from crm.metadata import specs as spec_cache
from crm.metadata.models import ListViewRow
from crm.metadata.versioning import bump_version
from crm.packages import dedupe_rules as dedupe_package
from crm.packages import pools as pool_package
from crm.packages import provenance, seed
from crm.packages import rules as rule_package
from crm.packages.current import current_config
from crm.packages.plan import (
    DUPLICATE_RULE,
    ENTITY,
    FIELD,
    LAYOUT,
    LIST_VIEW,
    PIPELINE,
    POOL,
    ROLE,
    RULE,
    Plan,
    Unresolved,
    items,
    plan,
)
from crm.pipelines import service as pipelines
from crm.schema import service as schema
from crm.uow import unit_of_work

# The kinds of item this module applies.
APPLIED = (ENTITY, FIELD, LAYOUT, LIST_VIEW, PIPELINE, ROLE, RULE, DUPLICATE_RULE, POOL)
# Fault-injection points of an apply (``SCHEMA_CHECKPOINT``), after the schema
# service's own ("after_metadata_write", "after_ddl", "at_commit") inside it.
STEPS = ("package_after_schema", "package_after_pipelines", "package_after_layouts",
         "package_after_list_views", "package_after_roles", "package_after_seed",
         "package_at_commit")  # fmt: skip


Report = Callable[[int, int, str], None]  # progress(done, total, step name)


class Steps:
    """Counts an apply's steps for a progress callback: one per entity whose settings or
    fields change, one for writing the tables and columns, one each for pipelines,
    layouts, list views, roles, seed records, and saving."""

    def __init__(self, report: Report | None, entities: int):
        self.report = report
        self.total = entities + 7
        self.done = 0

    def step(self, message: str) -> None:
        """Say that the step named ``message`` begins (the ones before it are done)."""
        if self.report is not None:
            self.report(min(self.done, self.total), self.total, message)
        self.done += 1

    def finished(self) -> None:
        if self.report is not None:
            self.report(self.total, self.total, _("Done."))


@dataclass(frozen=True)
class Result:
    """What an apply did: ``changed`` False when there was nothing to change."""

    changed: bool
    steps: int = 0


class DatabaseProbe:
    """Counts the records of this installation that a plan's steps would touch."""

    def empty_values(self, entity: str, field: str) -> int:
        compiled = spec_cache.raw()
        spec = compiled.entity(entity, include_archived=True)
        if spec is None or spec.field(field, include_archived=True) is None:
            return 0
        table = compiled.table(entity)
        col = table.c[field]
        return int(
            db.session.scalar(
                select(func.count()).where(col.is_(None), table.c.deleted_at.is_(None))
            )
            or 0
        )

    def stage_records(self, entity: str, stage: str) -> int:
        return pipelines.stage_counts(entity, [stage]).get(stage, 0)


def plan_package(package: Mapping[str, Any]) -> Plan:
    """The plan of applying ``package`` (already loaded and validated) here: against the
    installation now, three-way with what this package said when last applied."""
    name = str((package.get("package") or {}).get("name") or "")
    p = seed.with_seed(
        plan(current_config(), package, provenance.base_for(name), probe=DatabaseProbe())
    )
    p.problems = {
        **rule_package.problems(package),
        **dedupe_package.problems(package),
        **pool_package.problems(package),
    }
    p.notes = rule_package.notes(package)
    return p


def _checkpoint(step: str) -> None:
    hook = current_app.config.get("SCHEMA_CHECKPOINT")
    if hook is not None:
        hook(step)


def _ours(config: Mapping[str, Any] | None) -> dict[str, Any]:
    return {p: v for p, v in items(config).items() if v[0] in APPLIED}


def refusals(p: Plan, choices: Mapping[str, str], allow_destructive: bool) -> dict:
    """What ``apply`` would refuse before any write, by JSON pointer: a conflict without a
    choice, a destructive step without consent (empty: nothing to refuse)."""
    errors: dict[str, list[str]] = {k: list(v) for k, v in p.problems.items()}
    if errors:
        return errors
    for c in p.conflicts:
        if choices.get(c.path) not in ("mine", "theirs"):
            errors.setdefault(c.path, []).append(
                _("Both sides changed this: choose keep mine or take theirs.")
            )
    if errors:
        return errors
    if not allow_destructive:
        for step in p.destructive(choices):
            errors.setdefault(step.path, []).append(
                _(
                    "This step is destructive: %(why)s Allow destructive steps to apply it.",
                    why=step.why,
                )
            )
    return errors


def apply(
    p: Plan,
    *,
    choices: Mapping[str, str] | None = None,
    allow_destructive: bool = False,
    actor_id: int | None = None,
    progress: Report | None = None,
) -> Result:
    """Make the installation what ``p`` with ``choices`` says, in one transaction.

    ``progress(done, total, step)`` is called as each step begins (``Steps`` says which).

    Raises ``ValidationFailed`` (unresolved conflicts or refused destructive steps, keyed
    by JSON pointer; or the writers' own problems), ``Conflict`` when the configuration
    changed since the plan was made; nothing at all has changed then."""
    choices = dict(choices or {})
    errors = refusals(p, choices, allow_destructive)
    if errors:
        raise ValidationFailed(_("Nothing was changed."), errors=errors)
    try:
        steps = p.steps(choices)
    except Unresolved as exc:  # pragma: no cover - refusals() found them first
        raise ValidationFailed(_("Nothing was changed."), errors={str(exc): []}) from exc
    if not steps:
        if provenance.unchanged(p.theirs):
            return Result(changed=False)
        with unit_of_work(fresh=True):
            provenance.record(p.theirs)
        return Result(changed=False)
    target = _ours(p.wanted(choices))
    actor = _role_actor(p.mine, target, actor_id)
    before = _ours(p.mine)
    steps_done = Steps(progress, len(_schema_entities(before, target)))
    with unit_of_work(fresh=True, after_commit=[spec_cache.forget_request_specs]):
        bump_version()  # the version row's lock first: metadata writers queue behind us
        if _ours(current_config()) != _ours(p.mine):
            raise ChangedMeanwhile(
                _("The configuration changed since this plan was made. Plan again.")
            )
        _apply_schema(before, target, actor_id, steps_done)
        _checkpoint(STEPS[0])
        steps_done.step(_("Pipelines"))
        _apply_pipelines(before, target, actor_id)
        _checkpoint(STEPS[1])
        steps_done.step(_("Layouts"))
        _apply_layouts(before, target, actor_id)
        _checkpoint(STEPS[2])
        steps_done.step(_("Shared list views"))
        _apply_list_views(before, target, actor_id)
        _checkpoint(STEPS[3])
        steps_done.step(_("Roles"))
        _apply_roles(before, target, actor)
        rule_package.apply_rules(before, target, actor_id, RULE)
        dedupe_package.apply_rules(before, target, actor_id, DUPLICATE_RULE)
        pool_package.apply_pools(before, target, actor_id, POOL)
        _checkpoint(STEPS[4])
        steps_done.step(_("Seed records"))
        seed.apply_seed(p, actor_id)
        _checkpoint(STEPS[5])
        steps_done.step(_("Saving"))
        provenance.record(p.theirs)
        _checkpoint(STEPS[-1])
    steps_done.finished()
    return Result(changed=True, steps=len(steps))


# -- entities and fields: one schema change ------------------------------------------------

_ENTITY_TEXT = ("label_singular", "label_plural", "description", "icon", "color")


def _key(path: str) -> str:
    return path.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~")


def _choices(raw: Any) -> list[dict]:
    return [{**c, "order": i} for i, c in enumerate(raw or [])]


def _field_kwargs(ftype: str, value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "help_text": value.get("help_text", ""),
        "required": bool(value.get("required")),
        "unique": bool(value.get("unique")),
        "default": value.get("default"),
        "position": value.get("position"),
        "searchable": bool(value.get("searchable")),
        "options": dict(value.get("options") or {}),
        "choices": _choices(value.get("choices")) if types.get(ftype).has_choices else None,
        "translations": value.get("translations") or {},
    }


def _field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    ftype = new.get("type")
    blank = {"label": "", "help_text": "", "required": False, "unique": False,
             "default": None, "position": 0, "searchable": False, "translations": {}}  # fmt: skip
    out: dict[str, Any] = {}
    for prop in set(old) | set(new):
        if prop == "archived" or old.get(prop) == new.get(prop):
            continue
        if prop == "options":
            defaults = dict(types.get(ftype).default_options) if ftype in types.REGISTRY else {}
            out["options"] = {**defaults, **(new.get("options") or {})}
        elif prop == "choices":
            out["choices"] = _choices(new.get("choices"))
        else:
            out[prop] = new.get(prop, blank.get(prop))
    return out


def _schema_entities(before: dict, target: dict) -> list[str]:
    """The entities whose own settings or fields change, in the order they are applied."""
    keys = [v[1] for p, v in target.items() if v[0] in (ENTITY, FIELD) and before.get(p) != v]
    return list(dict.fromkeys(keys))


def _entity_label(target: dict, ekey: str) -> str:
    for kind, key, value in target.values():
        if kind == ENTITY and key == ekey:
            return value.get("label_plural") or value.get("label_singular") or ekey
    return ekey


def _apply_schema(before: dict, target: dict, actor_id: int | None, steps: Steps) -> None:
    changed = {p: v for p, v in target.items() if before.get(p) != v}
    seen: set[str] = set()

    def entity_step(ekey: str) -> None:
        if ekey not in seen:
            seen.add(ekey)
            steps.step(_("Entities and fields: %(entity)s", entity=_entity_label(target, ekey)))

    if not any(v[0] in (ENTITY, FIELD) for v in changed.values()):
        steps.step(_("Tables and columns"))
        return
    with schema.change(actor_id) as work:
        # Packages carry pipelines, and with them the fields pipelines manage.
        work.managing = True
        for path, (kind, ekey, value) in changed.items():
            if kind != ENTITY:
                continue
            entity_step(ekey)
            old = before.get(path)
            if old is None:
                work.create_entity(
                    ekey,
                    value.get("label_singular", ""),
                    value.get("label_plural"),
                    description=value.get("description", ""),
                    icon=value.get("icon", ""),
                    color=value.get("color", ""),
                    translations=value.get("translations") or {},
                )
                continue
            updates = {
                p: value.get(p, "")
                for p in (*_ENTITY_TEXT, "translations")
                if old[2].get(p) != value.get(p)
            }
            if "translations" in updates:
                updates["translations"] = value.get("translations") or {}
            if updates:
                work.update_entity(ekey, **updates)
            if old[2].get("archived") and not value.get("archived"):
                work.restore_entity(ekey)
        if work.errors:
            return
        for path, (kind, ekey, value) in changed.items():
            if kind != FIELD:
                continue
            entity_step(ekey)
            fkey, old = _key(path), before.get(path)
            if old is None:
                ftype = value.get("type", "")
                if ftype not in types.REGISTRY:
                    work.err(f"{ekey}.{fkey}.type", _("Unknown field type “%(type)s”.", type=ftype))
                    continue
                work.add_field(
                    ekey, fkey, ftype, value.get("label", ""), **_field_kwargs(ftype, value)
                )
            else:
                updates = _field_changes(old[2], value)
                if updates:
                    work.update_field(ekey, fkey, **updates)
                if old[2].get("archived") and not value.get("archived"):
                    work.restore_field(ekey, fkey)
            newly_archived = old is None or not old[2].get("archived")
            if value.get("archived") and newly_archived and not work.errors:
                work.archive_field(ekey, fkey)
        if work.errors:
            return
        for kind, ekey, value in target.values():
            if kind != ENTITY:
                continue
            name_field = value.get("name_field")
            if work.wanted[ekey].name_field != name_field:
                work.update_entity(ekey, name_field=name_field)
            if value.get("archived") and not work.wanted[ekey].archived:
                work.archive_entity(ekey)
        # The tables and columns are written as the block ends.
        steps.step(_("Tables and columns"))


# -- pipelines, layouts --------------------------------------------------------------------


def _apply_pipelines(before: dict, target: dict, actor_id: int | None) -> None:
    for path, (kind, ekey, value) in target.items():
        if kind != PIPELINE or before.get(path, (None, None, None))[2] == value:
            continue
        key = _key(path)
        exists = path in before
        old = before[path][2] if exists else {}
        if value.get("archived") and exists:
            if not old.get("archived"):
                pipelines.archive_pipeline(ekey, key, actor_id=actor_id)
            continue
        stages = [s for s in value.get("stages") or () if not s.get("archived")]
        active = [s["key"] for s in stages]
        moves = {
            s["key"]: active[0]
            for s in old.get("stages") or ()
            if active and not s.get("archived") and s["key"] not in active
        }
        pipelines.save_pipeline(
            ekey,
            key,
            value.get("name", ""),
            [
                pipelines.StageInput(
                    key=s["key"],
                    name=s.get("name", ""),
                    probability=s.get("probability", 0),
                    category=s.get("category", "open"),
                    color=s.get("color", "gray"),
                    required_fields=list(s.get("required_fields") or ()),
                    stale_days=s.get("stale_days"),
                    translations=s.get("translations") or {},
                )
                for s in stages
            ],
            translations=value.get("translations") or {},
            is_default=bool(value.get("default")),
            options=value.get("options") or {},
            move_to=moves,
            actor_id=actor_id,
        )
        if value.get("archived"):
            pipelines.archive_pipeline(ekey, key, actor_id=actor_id)


def _apply_layouts(before: dict, target: dict, actor_id: int | None) -> None:
    for path, (kind, ekey, value) in target.items():
        if kind != LAYOUT or before.get(path, (None, None, None))[2] == value:
            continue
        layouts.save_layout(ekey, _key(path), value, actor_id=actor_id)


# -- shared list views ---------------------------------------------------------------------


def _apply_list_views(before: dict, target: dict, actor_id: int | None) -> None:
    """Save each added or changed shared view by its key (its position is the service's:
    plans do not compare it; new views are saved in the package's order of positions, so
    they list in that order)."""
    views = [(path, e, v) for path, (kind, e, v) in target.items() if kind == LIST_VIEW]
    views.sort(key=lambda view: (view[1] or "", view[2].get("position") or 0, view[0]))
    for path, ekey, value in views:
        if before.get(path, (None, None, None))[2] == value:
            continue
        key = _key(path)
        view_id = db.session.scalar(
            select(ListViewRow.id).where(
                ListViewRow.entity_key == ekey,
                ListViewRow.owner_id.is_(None),
                ListViewRow.key == key,
            )
        )
        data = {
            "name": value.get("name", ""),
            "translations": (value.get("translations") or {}).get("name") or {},
            "columns": list(value.get("columns") or ()),
            "sort": list(value.get("sort") or ()),
            "filters": list(value.get("filters") or ()),
            "is_default": bool(value.get("default")),
            "key": key,
        }
        try:
            list_views.save_shared_view(ekey, data, actor_id=actor_id, view_id=view_id)
        except ValidationFailed as exc:
            raise ValidationFailed(
                exc.message, errors={f"{path}/{k}": v for k, v in exc.errors.items()}
            ) from exc


# -- roles ---------------------------------------------------------------------------------


def _role_actor(mine: Any, target: dict, actor_id: int | None) -> Any:
    """The user who changes roles (the access layer checks what they may grant), or None
    when the plan changes no role. Refused before any write without one."""
    before = {p: v for p, v in items(mine).items() if v[0] == ROLE}
    if all(before.get(p) == v for p, v in target.items() if v[0] == ROLE):
        return None
    actor = db.session.get(User, actor_id) if actor_id is not None else None
    if actor is None:
        raise ValidationFailed(
            _("Nothing was changed."),
            errors={"/roles": [_("Roles are changed by a user: name who applies the package.")]},
        )
    return actor


def _grants(value: Mapping[str, Any], old: Mapping[str, Any]) -> dict[tuple[str, str], int]:
    """The role's whole matrix for the role service: every action of "*", the package's
    entity rows, and the entities only ``old`` names set back to "*"."""
    by_key = {levels.level(v).key: v for v in levels.LEVELS}
    wanted = value.get("grants") or {}
    star = {a: by_key.get(lv, lv) for a, lv in (wanted.get("*") or {}).items()}
    out = {("*", a): star.get(a, levels.NONE) for a in ACTIONS}
    active = {e.key for e in spec_cache.raw().active_entities}
    for entity in old.get("grants") or {}:
        if entity != "*" and entity not in wanted and entity in active:
            out.update({(entity, a): star.get(a, levels.NONE) for a in ACTIONS})
    for entity, actions in wanted.items():
        if entity != "*":
            out.update({(entity, a): by_key.get(lv, lv) for a, lv in actions.items()})
    return out


def _field_rights(value: Mapping[str, Any], old: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """The role's field rights for the role service: the package's, and "edit" for the
    ones only ``old`` names (so they go)."""
    out = {(e, f): "edit" for e, fields in (old.get("field_rights") or {}).items() for f in fields}
    for entity, fields in (value.get("field_rights") or {}).items():
        out.update({(entity, f): access for f, access in fields.items()})
    return out


def _apply_roles(before: dict, target: dict, actor: Any) -> None:
    """Create each added role with its key; change each changed one (name, translations,
    description, flags, grants, field rights), as ``actor``."""
    for path, (kind, _e, value) in target.items():
        old = before.get(path, (None, None, None))[2]
        if kind != ROLE or old == value:
            continue
        key = _key(path)
        settings = {
            "name": value.get("name", ""),
            "description": value.get("description", ""),
            "can_configure": bool(value.get("can_configure")),
            "can_manage_access": bool(value.get("can_manage_access")),
            "grants": _grants(value, old or {}),
            "fields": _field_rights(value, old or {}),
            "translations": value.get("translations") or {},
        }
        try:
            role = db.session.scalar(select(Role).where(Role.key == key))
            if role is None:
                role_service.create(actor, key=key, **settings)
            else:
                role_service.update(actor, role.id, **settings)
        except (ValidationFailed, Forbidden) as exc:
            # A refusal of the access layer (rights the applying user does not hold) is
            # a refusal of this plan: nothing is changed, and the role's path says where.
            errors = {path: [exc.message], **{f"{path}/{k}": v for k, v in exc.errors.items()}}
            raise ValidationFailed(_("Nothing was changed."), errors=errors) from exc
