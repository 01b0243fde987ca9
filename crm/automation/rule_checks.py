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
from urllib.parse import urlsplit

from flask_babel import gettext as _

from crm.access import policy
from crm.access.models import Department, Role, User
from crm.activities.models import PRIORITIES
from crm.extensions import db
from crm.ids import as_id
from crm.metadata import labels, types
from crm.metadata import list_views as lv
from crm.metadata import specs as spec_cache
from crm.metadata.keys import MAX_LABEL, clean_label, label_problems
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.notifications import message
from crm.pipelines.spec import STAGE_FIELD, EntityPipelines

TRIGGERS = ("created", "updated", "changed", "stage_entered", "stage_left", "date", "held")
HELD = ("no_activity", "in_stage")
ACTIONS = ("set", "assign", "task", "notify", "email", "webhook")
HOW = ("round_robin", "least_loaded")
MAX_ACTIONS = 20
MAX_CONDITIONS = 20
MAX_RECIPIENTS = 50
MAX_SET = 50
MAX_DAYS = 3650
MAX_DESCRIPTION = 2000
MAX_URL = 2000
MAX_SECRET = 200
MAX_DB_ID = 2**31 - 1
NAME_LIMITS = {"name": MAX_LABEL}


class Problems:
    """Problems keyed by where they are (the keys of ``ValidationFailed.errors``)."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, where: str, text: str) -> None:
        self.errors.setdefault(where, []).append(str(text))

    def extend(self, where: str, texts: list[str]) -> bool:
        for t in texts:
            self.add(where, t)
        return bool(texts)


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not text.lstrip("-").isascii() or not text.lstrip("-").isdigit() or len(text) > 6:
            return None
        number = int(text)
    return number if low <= number <= high else None


def _db_id(value: Any) -> int | None:
    number = as_id(value)
    return number if number is not None and number <= MAX_DB_ID else None


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
        offset = _int(raw.get("offset_days", 0) or 0, -MAX_DAYS, MAX_DAYS)
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
        days = _int(raw.get("days"), 1, MAX_DAYS)
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


# -- actions ---------------------------------------------------------------------------------


def _recipient(raw: Any) -> tuple[Any, str | None]:
    """A cleaned recipient, or the problem with it."""
    if raw in ("owner", "manager"):
        return raw, None
    if isinstance(raw, Mapping) and len(raw) == 1:
        ((kind, value),) = raw.items()
        number = _db_id(value)
        model = {"user": User, "role": Role, "department": Department}.get(kind)
        if model is not None and number is not None:
            found = db.session.get(model, number)
            if found is not None and (model is not User or found.is_active):
                return {kind: number}, None
        if kind == "user":
            return None, _("Choose an active user.")
        if kind == "role":
            return None, _("Choose an existing role.")
        if kind == "department":
            return None, _("Choose an existing department.")
    return None, _(
        "Choose who is told: the owner, the owner's manager, a role, a department or a person."
    )


def _recipients(p: Problems, where: str, raw: Any) -> list:
    if not isinstance(raw, list | tuple) or not raw:
        p.add(where, _("Choose at least one recipient."))
        return []
    if len(raw) > MAX_RECIPIENTS:
        p.add(where, _("Choose at most %(max)d recipients.", max=MAX_RECIPIENTS))
        return []
    out = []
    for item in raw:
        value, problem = _recipient(item)
        if problem:
            p.add(where, problem)
        elif value not in out:
            out.append(value)
    return out


def _template(
    p: Problems, where: str, raw: Any, entity: EntitySpec, author: Any, *, required: bool
) -> str:
    text = raw if isinstance(raw, str) else ""
    if raw not in (None, "") and not isinstance(raw, str):
        p.add(where, _("The message must be text."))
        return ""
    if "\x00" in text:
        p.add(where, _("The message contains a NUL character."))
        return ""
    text = text.strip()
    if not text:
        if required:
            p.add(where, _("Enter a message."))
        return ""
    p.extend(where, message.check(text, entity, author))
    return text


def _set_values(p: Problems, where: str, raw: Any, entity: EntitySpec, author: Any) -> dict:
    from crm.records import service as records  # the record service imports automation

    if not isinstance(raw, Mapping) or not raw:
        p.add(where, _("Choose at least one field to set."))
        return {}
    if len(raw) > MAX_SET:
        p.add(where, _("Set at most %(max)d fields.", max=MAX_SET))
        return {}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        ok_scalar = value is None or isinstance(value, str | int | float | bool)
        ok_list = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not isinstance(key, str) or not (ok_scalar or ok_list):
            p.add(where, _("The values were not sent in the expected shape."))
            return {}
        values[key] = value.strip() if isinstance(value, str) else value
    editable = None
    if author is None:  # the system (a package applied from the command line)
        editable = {f.key: f for f in entity.active_fields if not types.get(f.type).assigned}
    _parsed, errors = records.parse_values(
        author, entity, values, creating=False, editable=editable, references=author is not None
    )
    for key, messages in errors.items():
        p.extend(f"{where}.{str(key)[:41]}", messages)
    return values


def _check_action(
    p: Problems, n: int, raw: Any, entity: EntitySpec, author: Any, old: list, lax: bool
) -> dict:
    where = f"actions.{n}"
    if not isinstance(raw, Mapping) or raw.get("type") not in ACTIONS:
        p.add(where, _("Choose what the action does."))
        return {}
    kind = raw["type"]
    out: dict[str, Any] = {"type": kind}
    if kind == "set":
        out["values"] = _set_values(p, f"{where}.values", raw.get("values"), entity, author)
    elif kind == "assign":
        to = raw.get("to")
        if isinstance(to, Mapping) and set(to) == {"user"}:
            value, problem = _recipient(to)
        elif isinstance(to, Mapping) and len(to) == 1 and set(to) <= {"role", "department"}:
            value, problem = _recipient(to)
            how = raw.get("how")
            if how not in HOW:
                p.add(f"{where}.how", _("Choose round-robin or least loaded."))
            else:
                out["how"] = how
        else:
            value, problem = None, _("Choose a person, a department or a role.")
        if problem:
            p.add(f"{where}.to", problem)
        else:
            out["to"] = value
    elif kind == "task":
        out["subject"] = _template(
            p, f"{where}.subject", raw.get("subject"), entity, author, required=True
        )
        due = _int(raw.get("due_in_days", 0) or 0, 0, MAX_DAYS)
        if due is None:
            p.add(
                f"{where}.due_in_days",
                _("Due in: a whole number of days from 0 to %(max)d.", max=MAX_DAYS),
            )
        else:
            out["due_in_days"] = due
        priority = raw.get("priority") or "normal"
        if priority not in PRIORITIES:
            p.add(f"{where}.priority", _("Choose a priority."))
        else:
            out["priority"] = priority
        assignee = raw.get("assignee") or "owner"
        if assignee == "owner":
            out["assignee"] = "owner"
        else:
            value, problem = (
                _recipient(assignee)
                if isinstance(assignee, Mapping) and set(assignee) == {"user"}
                else (None, _("Choose the owner or an active user."))
            )
            if problem:
                p.add(f"{where}.assignee", problem)
            else:
                out["assignee"] = value
    elif kind in ("notify", "email"):
        head = "title" if kind == "notify" else "subject"
        out["to"] = _recipients(p, f"{where}.to", raw.get("to"))
        out[head] = _template(p, f"{where}.{head}", raw.get(head), entity, author, required=True)
        out["body"] = _template(
            p, f"{where}.body", raw.get("body"), entity, author, required=kind == "email"
        )
    elif kind == "webhook":
        url = raw.get("url") if isinstance(raw.get("url"), str) else ""
        url = url.strip()
        parts = urlsplit(url) if len(url) <= MAX_URL else None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or any(ch.isspace() or ord(ch) < 32 for ch in url)
        ):
            p.add(f"{where}.url", _("Enter a web address starting with http:// or https://."))
        out["url"] = url
        secret = raw.get("secret") if isinstance(raw.get("secret"), str) else ""
        if not secret.strip():
            # A blank secret keeps the one stored for the same address (forms never show it).
            secret = next(
                (
                    a.get("secret", "")
                    for a in old
                    if a.get("type") == "webhook" and a.get("url") == url
                ),
                "",
            )
        if not secret.strip() and not lax:
            p.add(
                f"{where}.secret", _("Enter a secret: the receiver checks the signature with it.")
            )
        elif len(secret) > MAX_SECRET or "\x00" in secret:
            p.add(
                f"{where}.secret",
                _("The secret may be at most %(max)d characters.", max=MAX_SECRET),
            )
        out["secret"] = secret.strip()
    return out


def check_actions(
    p: Problems,
    entity: EntitySpec,
    raw: Any,
    author: Any,
    old: list | None = None,
    *,
    secrets_optional: bool = False,
) -> list[dict]:
    """The cleaned actions, problems under ``actions`` and ``actions.<n>.<part>``.
    ``secrets_optional``: a webhook may come without its secret (a package's rule: secrets
    are never exported; the rule editor asks for it again)."""
    if not isinstance(raw, list | tuple) or not raw:
        p.add("actions", _("Add at least one action."))
        return []
    if len(raw) > MAX_ACTIONS:
        p.add("actions", _("A rule can have at most %(max)d actions.", max=MAX_ACTIONS))
        return []
    return [
        _check_action(p, n, a, entity, author, old or [], secrets_optional)
        for n, a in enumerate(raw)
    ]


# -- the whole rule --------------------------------------------------------------------------


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
