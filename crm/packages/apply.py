"""Applying a planned package: all of it, atomically, or nothing.

``apply(plan, choices=..., allow_destructive=..., actor_id=...)`` runs in ONE unit of work:
one schema change (``crm.schema.service.change``) for entities and fields, then each
changed pipeline through ``crm.pipelines.service`` and each changed layout through
``crm.metadata.layouts``, then the provenance rows. Those writers open their own units,
which inside this one are savepoints of the same transaction: a failure at any step rolls
back metadata rows, tables and columns, pipelines, layouts, provenance and the version.

Refused before any write: a conflict without a choice, a destructive step without
``allow_destructive``, an installation that changed since the plan was made. Applying a
package whose plan is empty changes nothing (no version bump).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.errors import Conflict as ChangedMeanwhile
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import layouts, types
from crm.metadata import specs as spec_cache
from crm.metadata.versioning import bump_version
from crm.packages import provenance
from crm.packages.current import current_config
from crm.packages.plan import (
    ENTITY,
    FIELD,
    LAYOUT,
    PIPELINE,
    Plan,
    Unresolved,
    items,
    plan,
)
from crm.pipelines import service as pipelines
from crm.schema import service as schema
from crm.uow import unit_of_work

# The kinds of item this module applies (list views and roles: not yet).
APPLIED = (ENTITY, FIELD, LAYOUT, PIPELINE)
# Fault-injection points of an apply (``SCHEMA_CHECKPOINT``), after the schema
# service's own ("after_metadata_write", "after_ddl", "at_commit") inside it.
STEPS = ("package_after_schema", "package_after_pipelines", "package_after_layouts",
         "package_at_commit")  # fmt: skip


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
    return plan(current_config(), package, provenance.base_for(name), probe=DatabaseProbe())


def _checkpoint(step: str) -> None:
    hook = current_app.config.get("SCHEMA_CHECKPOINT")
    if hook is not None:
        hook(step)


def _ours(config: Mapping[str, Any] | None) -> dict[str, Any]:
    return {p: v for p, v in items(config).items() if v[0] in APPLIED}


def _refusals(p: Plan, choices: Mapping[str, str], allow_destructive: bool) -> dict:
    errors: dict[str, list[str]] = {}
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
) -> Result:
    """Make the installation what ``p`` with ``choices`` says, in one transaction.

    Raises ``ValidationFailed`` (unresolved conflicts or refused destructive steps, keyed
    by JSON pointer; or the writers' own problems), ``Conflict`` when the configuration
    changed since the plan was made; nothing at all has changed then."""
    choices = dict(choices or {})
    errors = _refusals(p, choices, allow_destructive)
    if errors:
        raise ValidationFailed(_("Nothing was changed."), errors=errors)
    try:
        steps = p.steps(choices)
    except Unresolved as exc:  # pragma: no cover - _refusals found them first
        raise ValidationFailed(_("Nothing was changed."), errors={str(exc): []}) from exc
    if not steps:
        if provenance.unchanged(p.theirs):
            return Result(changed=False)
        with unit_of_work(fresh=True):
            provenance.record(p.theirs)
        return Result(changed=False)
    target = _ours(p.wanted(choices))
    with unit_of_work(fresh=True, after_commit=[spec_cache.forget_request_specs]):
        bump_version()  # the version row's lock first: metadata writers queue behind us
        if _ours(current_config()) != _ours(p.mine):
            raise ChangedMeanwhile(
                _("The configuration changed since this plan was made. Plan again.")
            )
        before = _ours(p.mine)
        _apply_schema(before, target, actor_id)
        _checkpoint(STEPS[0])
        _apply_pipelines(before, target, actor_id)
        _checkpoint(STEPS[1])
        _apply_layouts(before, target, actor_id)
        _checkpoint(STEPS[2])
        provenance.record(p.theirs)
        _checkpoint(STEPS[3])
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


def _apply_schema(before: dict, target: dict, actor_id: int | None) -> None:
    changed = {p: v for p, v in target.items() if before.get(p) != v}
    if not any(v[0] in (ENTITY, FIELD) for v in changed.values()):
        return
    with schema.change(actor_id) as work:
        # Packages carry pipelines, and with them the fields pipelines manage.
        work.managing = True
        for path, (kind, ekey, value) in changed.items():
            if kind != ENTITY:
                continue
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
