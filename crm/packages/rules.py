"""Automation rules in configuration packages (``"rules": {key: rule}``).

Export is by key and deterministic, with defaults left out. References are made
portable: a person (``{"user": id}`` as recipient or assignee) is written by their
e-mail, a role by its key, a department by its name; webhook secrets are never written
(the plan notes that they must be entered again). Applying resolves those names back to
this installation's ids (``resolve``); a name that resolves to nothing is a plan problem
(``problems``), and nothing is applied then. Rules are written through
``crm.automation.rules`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.access.models import Department, Role, User
from crm.automation import rules as rule_service
from crm.automation.models import AutomationRule
from crm.extensions import db

RULES = "rules"
_RECIPIENT_KINDS = ("user", "role", "department")


def portable_names() -> dict[str, dict]:
    """Ids -> portable names, and back, for people, roles and departments."""
    users = db.session.execute(select(User.id, User.email, User.is_active)).all()
    roles = db.session.execute(select(Role.id, Role.key)).all()
    depts = db.session.execute(select(Department.id, Department.name)).all()
    dept_count: dict[str, int] = {}
    for _id, name in depts:
        dept_count[name] = dept_count.get(name, 0) + 1
    return {
        "user": {uid: email for uid, email, _a in users},
        "role": {rid: key for rid, key in roles if key},
        "department": {did: name for did, name in depts},
        "user_back": {email.lower(): uid for uid, email, active in users if active},
        "role_back": {key: rid for rid, key in roles if key},
        "department_back": {n: did for did, n in depts if dept_count[n] == 1},
    }


def _out(r: Any, names: dict) -> Any:
    if isinstance(r, Mapping) and len(r) == 1:
        ((kind, rid),) = r.items()
        if kind in _RECIPIENT_KINDS:
            return {kind: names[kind].get(rid, f"#{rid}")}
    return r


def _portable_action(a: Mapping[str, Any], names: dict) -> dict:
    out = {k: v for k, v in a.items() if k != "secret"}
    if isinstance(out.get("to"), list):
        out["to"] = [_out(r, names) for r in out["to"]]
    elif "to" in out:
        out["to"] = _out(out["to"], names)
    if "assignee" in out:
        out["assignee"] = _out(out["assignee"], names)
    if not out.get("body"):
        out.pop("body", None)
    return out


def _compact(items: Mapping[str, Any]) -> dict:
    return {
        k: v
        for k, v in items.items()
        if v is not None and v is not False and (isinstance(v, int | float) or v)
    }


def exported() -> dict[str, dict]:
    """Every rule by key, portable, defaults omitted. Reads only."""
    rows = db.session.scalars(select(AutomationRule).order_by(AutomationRule.key)).all()
    if not rows:
        return {}
    names = portable_names()
    return {
        row.key: _compact(
            {
                "entity": row.entity_key,
                "name": row.name,
                "translations": dict(row.translations or {}),
                "description": row.description or "",
                "disabled": not row.enabled,
                "trigger": dict(row.trigger or {}),
                "conditions": list(row.conditions or []),
                "actions": [_portable_action(a, names) for a in row.actions or []],
            }
        )
        for row in rows
    }


def _back(r: Any, names: dict, package_roles: set[str]) -> tuple[Any, str | None]:
    """A portable recipient as this installation's, or the problem with it."""
    if not (isinstance(r, Mapping) and len(r) == 1):
        return r, None
    ((kind, name),) = r.items()
    if kind == "user":
        uid = names["user_back"].get(str(name).lower())
        if uid is None:
            return None, _("No active user has the e-mail “%(email)s”.", email=str(name)[:254])
        return {"user": uid}, None
    if kind == "role":
        rid = names["role_back"].get(name)
        if rid is None and name in package_roles:
            return {"role": name}, None  # made by this package's roles, resolved on apply
        if rid is None:
            return None, _("There is no role with the key “%(key)s”.", key=str(name)[:41])
        return {"role": rid}, None
    if kind == "department":
        did = names["department_back"].get(name)
        if did is None:
            return None, _(
                "There is no department named “%(name)s” (or several have that name).",
                name=str(name)[:120],
            )
        return {"department": did}, None
    return r, None


def resolve(
    rule: Mapping[str, Any], names: dict | None = None, package_roles: set[str] = frozenset()
) -> tuple[list[dict], dict[str, list[str]]]:
    """The actions of a portable rule with this installation's ids, and the problems by
    where they are (``actions/<n>/to``)."""
    names = names or portable_names()
    problems: dict[str, list[str]] = {}
    actions: list[dict] = []
    for n, a in enumerate(rule.get("actions") or []):
        out = dict(a) if isinstance(a, Mapping) else {}
        for part in ("to", "assignee"):
            if part not in out:
                continue
            many = isinstance(out[part], list)
            resolved = []
            for r in out[part] if many else [out[part]]:
                value, problem = _back(r, names, package_roles)
                if problem:
                    problems.setdefault(f"actions/{n}/{part}", []).append(problem)
                resolved.append(value)
            out[part] = resolved if many else resolved[0]
        actions.append(out)
    return actions, problems


def problems(package: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every reference of the package's rules that does not resolve here, by JSON
    pointer (``/rules/<key>`` and ``/rules/<key>/actions``, where a plan shows it)."""
    rules = package.get(RULES) if isinstance(package.get(RULES), Mapping) else {}
    if not rules:
        return {}
    names = portable_names()
    package_roles = set((package.get("roles") or {}).keys())
    out: dict[str, list[str]] = {}
    for key, rule in rules.items():
        if not isinstance(rule, Mapping):
            continue
        _actions, found = resolve(rule, names, package_roles)
        messages = [m for ms in found.values() for m in ms]
        if messages:
            out[f"/rules/{key}"] = messages
            out[f"/rules/{key}/actions"] = messages
    return out


def notes(package: Mapping[str, Any]) -> list[str]:
    """What an implementer must do by hand after applying: enter webhook secrets."""
    rules = package.get(RULES) if isinstance(package.get(RULES), Mapping) else {}
    out = []
    for key in sorted(rules):
        rule = rules[key]
        hooks = [a for a in (rule.get("actions") or []) if isinstance(a, Mapping)]
        if any(a.get("type") == "webhook" for a in hooks):
            out.append(
                _(
                    "The rule “%(key)s” calls a webhook: secrets are not exported, so enter "
                    "its secret again in the rule after applying.",
                    key=key,
                )
            )
    return out


def apply_rules(before: Mapping, target: Mapping, actor_id: int | None, rule_kind: str) -> None:
    """Create, change or delete the rules whose package items differ (``before`` and
    ``target``: the plan's items by JSON pointer). Raises ``ValidationFailed`` keyed by
    JSON pointer."""
    from crm.errors import ValidationFailed

    names = None
    for path in sorted(set(before) | set(target)):
        kind = (target.get(path) or before.get(path))[0]
        if kind != rule_kind:
            continue
        key = path.rsplit("/", 1)[1]
        row = rule_service.rule_by_key(key)
        if path not in target:
            if row is not None:
                rule_service.delete_rule(row.id, actor_id=actor_id)
            continue
        value = target[path][2]
        if before.get(path, (None, None, None))[2] == value:
            continue
        if names is None:
            names = portable_names()  # after the roles: those this package made resolve too
        actions, found = resolve(value, names)
        data = {
            "entity_key": value.get("entity"),
            "key": key,
            "name": value.get("name", ""),
            "translations": value.get("translations") or {},
            "description": value.get("description", ""),
            "enabled": not value.get("disabled"),
            "trigger": value.get("trigger"),
            "conditions": value.get("conditions") or [],
            "actions": actions,
        }
        try:
            if found:
                raise ValidationFailed(_("Nothing was changed."), errors=found)
            if row is None:
                rule_service.create_rule(data, actor_id=actor_id, secrets_optional=True)
            else:
                rule_service.update_rule(row.id, data, actor_id=actor_id, secrets_optional=True)
        except ValidationFailed as exc:
            raise ValidationFailed(
                exc.message,
                errors={f"{path}/{k.replace('.', '/')}": v for k, v in exc.errors.items()},
            ) from exc


def count() -> int:
    """How many rules there are (for tests and summaries)."""
    return int(db.session.scalar(select(func.count()).select_from(AutomationRule)) or 0)
