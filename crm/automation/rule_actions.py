"""Checking the actions of an automation rule (``crm.automation.rule_checks`` checks the
rest): recipients, people, roles and departments that exist; templates through
``crm.notifications.message.check`` with the author; set values parsed as the record
service parses a form, only fields the author may edit; webhooks with an http(s)
address and a secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _

from crm.access.models import Department, Role, User
from crm.activities.models import PRIORITIES
from crm.automation.rule_parts import (
    ACTIONS,
    HOW,
    MAX_ACTIONS,
    MAX_DAYS,
    MAX_REASON,
    MAX_RECIPIENTS,
    MAX_SECRET,
    MAX_SET,
    MAX_URL,
    Problems,
    db_id,
    whole_number,
)
from crm.extensions import db
from crm.metadata import types
from crm.metadata.spec import EntitySpec
from crm.notifications import message
from crm.pools.spec import pools_of
from crm.webhooks import urls as webhook_urls

# -- actions ---------------------------------------------------------------------------------


def recipient(raw: Any) -> tuple[Any, str | None]:
    """A cleaned recipient (``"owner"``, ``"manager"``, ``{"user"|"role"|"department": id}``
    of something that exists; people must be active), or the problem with it."""
    if raw in ("owner", "manager"):
        return raw, None
    if isinstance(raw, Mapping) and len(raw) == 1:
        ((kind, value),) = raw.items()
        number = db_id(value)
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
        value, problem = recipient(item)
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
            value, problem = recipient(to)
        elif isinstance(to, Mapping) and len(to) == 1 and set(to) <= {"role", "department"}:
            value, problem = recipient(to)
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
        due = whole_number(raw.get("due_in_days", 0) or 0, 0, MAX_DAYS)
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
                recipient(assignee)
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
    elif kind == "pool":
        key = raw.get("pool") if isinstance(raw.get("pool"), str) else ""
        pools = pools_of(entity.key)
        if not key and len(pools) == 1:
            key = pools[0].key
        if not any(pool.key == key for pool in pools):
            p.add(f"{where}.pool", _("Choose one of this entity's customer pools."))
        out["pool"] = key
        reason = raw.get("reason") if isinstance(raw.get("reason"), str) else ""
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            p.add(
                f"{where}.reason",
                _("Say why in at most %(num)d characters: the record's timeline shows it.",
                  num=MAX_REASON),
            )  # fmt: skip
        out["reason"] = reason
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
        else:
            # what can be told without DNS (a private or loopback address written out);
            # the delivery checks the host's addresses again right before it calls
            for problem in webhook_urls.vet(url, lookup=False)[1]:
                p.add(f"{where}.url", problem.message)
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
