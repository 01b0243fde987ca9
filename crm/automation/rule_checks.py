"""Checking an automation rule as an administrator wrote it (``crm.automation.rules`` is
the only caller that writes).

``check_rule(entity, data, author, old=None)`` checks every part at once and returns the
cleaned rule and the problems keyed by where they are (``name``, ``trigger.field``,
``conditions.2``, ``actions.0.values.amount``, ``actions.1.to``...), in words for people.
The shapes are those of ``crm.automation.models``. What a field may be used for is asked
of the field-type registry (``temporal``); stages of the pipelines' specs; conditions of
the list views' own check; set values of the record service's parsing (only fields the
author may edit); templates of ``crm.notifications.message.check`` (only fields the author
may read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from crm.access import policy
from crm.automation.rule_actions import check_actions
from crm.automation.rule_parts import (
    HELD,
    MAX_CONDITIONS,
    MAX_DAYS,
    MAX_DESCRIPTION,
    TRIGGERS,
    Problems,
    whole_number,
)
from crm.metadata import labels, types
from crm.metadata import list_views as lv
from crm.metadata import specs as spec_cache
from crm.metadata.keys import MAX_LABEL, clean_label, label_problems
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.pipelines.spec import STAGE_FIELD, EntityPipelines

NAME_LIMITS = {"name": MAX_LABEL}


def _readable(author: Any, entity: EntitySpec) -> dict[str, FieldSpec]:
    if author is None:
        return {f.key: f for f in entity.active_fields}
    return {f.key: f for f in policy.visible_fields(author, entity)}


def _pipelines(entity_key: str) -> EntityPipelines:
    return spec_cache.raw().pipelines.get(entity_key) or EntityPipelines(entity_key)


# -- trigger ---------------------------------------------------------------------------------


def _stage_part(p: Problems, entity: EntitySpec, raw: Mapping, out: dict) -> None:
    """The stage field and stage of a stage trigger (or of "in stage for N days")."""
    pipes = _pipelines(entity.key)
    f = (
        entity.field(raw.get("field") or STAGE_FIELD)
        if isinstance(raw.get("field"), str | None)
        else None
    )
    if not pipes.active or f is None or f.key != STAGE_FIELD:
        p.add("trigger.field", _("This entity has no pipeline: there are no stages to follow."))
        return
    stage = pipes.stage(raw.get("stage")) if isinstance(raw.get("stage"), str) else None
    if stage is None or stage.archived:
        p.add("trigger.stage", _("Choose a stage of this entity's pipelines."))
        return
    out.update(field=f.key, stage=stage.key)


def check_trigger(p: Problems, entity: EntitySpec, raw: Any, author: Any) -> dict:
    """The cleaned trigger; its problems are reported under ``trigger``/``trigger.<part>``."""
    if not isinstance(raw, Mapping) or raw.get("type") not in TRIGGERS:
        p.add("trigger", _("Choose what starts the rule."))
        return {}
    kind = raw["type"]
    out: dict[str, Any] = {"type": kind}
    readable = _readable(author, entity)
    if kind == "changed":
        f = readable.get(raw.get("field")) if isinstance(raw.get("field"), str) else None
        if f is None:
            p.add("trigger.field", _("Choose a field of this entity that you can read."))
            return out
        out["field"] = f.key
        to = raw.get("to")
        if isinstance(to, int | float) and not isinstance(to, bool):
            to = str(to)
        if to not in (None, "") and not isinstance(to, str):
            p.add("trigger.to", _("Enter the new value as text."))
        elif isinstance(to, str) and to.strip():
            try:
                if types.get(f.type).parse_input(f, to.strip()) is None:
                    raise ValueError(_("Enter a value."))
                out["to"] = to.strip()
            except ValueError as exc:
                p.add("trigger.to", str(exc))
    elif kind in ("stage_entered", "stage_left"):
        _stage_part(p, entity, raw, out)
    elif kind == "date":
        f = readable.get(raw.get("field")) if isinstance(raw.get("field"), str) else None
        if f is None or not types.get(f.type).temporal:
            p.add("trigger.field", _("Choose a date field of this entity that you can read."))
        else:
            out["field"] = f.key
        offset = whole_number(raw.get("offset_days", 0) or 0, -MAX_DAYS, MAX_DAYS)
        if offset is None:
            p.add(
                "trigger.offset_days",
                _("Days before or after: a whole number from -%(max)d to %(max)d.", max=MAX_DAYS),
            )
        else:
            out["offset_days"] = offset
        out["yearly"] = bool(raw.get("yearly"))
    elif kind == "held":
        what = raw.get("what")
        if what not in HELD:
            p.add("trigger.what", _("Choose what must hold: no activity, or staying in a stage."))
            return out
        out["what"] = what
        if what == "in_stage":
            _stage_part(p, entity, raw, out)
        days = whole_number(raw.get("days"), 1, MAX_DAYS)
        if days is None:
            p.add("trigger.days", _("Days: a whole number from 1 to %(max)d.", max=MAX_DAYS))
        else:
            out["days"] = days
    return out


# -- conditions ------------------------------------------------------------------------------


def check_conditions(p: Problems, entity: EntitySpec, raw: Any, author: Any) -> list[dict]:
    """The cleaned conditions (list-view filters), problems under ``conditions.<n>``."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list | tuple):
        p.add("conditions", _("The conditions were not sent in the expected shape."))
        return []
    if len(raw) > MAX_CONDITIONS:
        p.add("conditions", _("A rule can have at most %(max)d conditions.", max=MAX_CONDITIONS))
        return []
    readable = set(_readable(author, entity)) | set(lv.SPINE_BY_KEY)
    out = []
    for n, item in enumerate(raw):
        spec, problems = lv.check_filter(entity, item)
        if p.extend(f"conditions.{n}", problems) or spec is None:
            continue
        if spec.field not in readable:
            p.add(f"conditions.{n}", _("You may not filter by “%(key)s”.", key=spec.field))
            continue
        out.append(spec.to_data())
    return out


def check_rule(
    p: Problems,
    entity: EntitySpec,
    data: Mapping[str, Any],
    author: Any,
    old: Any = None,
    *,
    secrets_optional: bool = False,
) -> dict:
    """The cleaned rule (``name``, ``translations``, ``description``, ``enabled``,
    ``trigger``, ``conditions``, ``actions``); every problem goes to ``p``."""
    name = data.get("name") if isinstance(data.get("name"), str) else ""
    p.extend("name", label_problems(name))
    translated, bad = labels.check_parts(data.get("translations"), NAME_LIMITS)
    for messages in bad.values():
        p.extend("name", messages)
    description = data.get("description") or ""
    if not isinstance(description, str) or "\x00" in description:
        p.add("description", _("The description must be text."))
        description = ""
    elif len(description.strip()) > MAX_DESCRIPTION:
        p.add("description", _("Use at most %(num)d characters.", num=MAX_DESCRIPTION))
    old_actions = list(old.actions or []) if old is not None else []
    return {
        "name": clean_label(name),
        "translations": translated,
        "description": description.strip(),
        "enabled": bool(data.get("enabled", True)),
        "trigger": check_trigger(p, entity, data.get("trigger"), author),
        "conditions": check_conditions(p, entity, data.get("conditions"), author),
        "actions": check_actions(
            p, entity, data.get("actions"), author, old_actions, secrets_optional=secrets_optional
        ),
    }
